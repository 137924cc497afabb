package chatio.puppet;

import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/** org.json helpers. The org.json of Android (and of the Java client) throws
 * the checked {@link JSONException}; here it becomes unchecked. */
final class Json {
    private Json() {
    }

    /** An object from alternating keys and values; a null value becomes JSON null. */
    static JSONObject object(Object... keysAndValues) {
        JSONObject result = new JSONObject();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            put(result, (String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return result;
    }

    static JSONObject put(JSONObject target, String key, Object value) {
        try {
            return target.put(key, value == null ? JSONObject.NULL : value);
        } catch (JSONException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    static JSONObject parse(String text) {
        try {
            return new JSONObject(text);
        } catch (JSONException e) {
            throw new IllegalArgumentException("not a JSON object: " + e.getMessage(), e);
        }
    }

    /** Event arguments as the array they came in; anything that is not JSON is described. */
    static JSONArray array(Object[] values) {
        JSONArray result = new JSONArray();
        for (Object value : values) {
            result.put(jsonValue(value));
        }
        return result;
    }

    /** A value org.json can write: JSON values as they are, exceptions and others as text. */
    static Object jsonValue(Object value) {
        if (value == null) {
            return JSONObject.NULL;
        }
        if (value instanceof JSONObject || value instanceof JSONArray || value instanceof String
                || value instanceof Number || value instanceof Boolean || value == JSONObject.NULL) {
            return value;
        }
        if (value instanceof Throwable) {
            return String.valueOf(((Throwable) value).getMessage());
        }
        return String.valueOf(value);
    }

    static JSONObject objectAt(JSONArray array, int index) {
        try {
            return array.getJSONObject(index);
        } catch (JSONException e) {
            throw new IllegalArgumentException("entry " + index + " is not an object", e);
        }
    }

    /** A required string field of a request. */
    static String text(JSONObject request, String key) {
        Object value = request.opt(key);
        if (!(value instanceof String)) {
            throw new IllegalArgumentException("\"" + key + "\" must be a string");
        }
        return (String) value;
    }
}

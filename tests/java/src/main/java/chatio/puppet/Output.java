package chatio.puppet;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.json.JSONObject;

/** stdout: one JSON object per line, written whole from any thread. */
final class Output {
    private final PrintStream out = new PrintStream(
            new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);

    synchronized void write(JSONObject line) {
        out.println(line.toString());
        out.flush();
    }

    /** The successful answer to request {@code id}, with {@code fields} added. */
    void answer(Object id, JSONObject fields) {
        Json.put(fields, "id", id);
        Json.put(fields, "ok", true);
        write(fields);
    }

    void fail(Object id, String error) {
        write(Json.object("id", id, "ok", false, "error", error));
    }
}

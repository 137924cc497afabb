package chatio.puppet;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * One room's log as an app shows it: every seq once, in seq order.
 *
 * <p>{@code last} is the highest seq delivered with nothing missing below it.
 * Entries at or below it are duplicates and dropped. An entry above
 * {@code last + 1}, and every live entry while a (re)join is in flight, is held
 * until the entries before it are there; the caller then reads the hole with
 * {@code history {after: last}}.
 *
 * <p>A position is ({@code epoch}, {@code last}). A page with {@code gap: true}
 * and another epoch means the room's history started over: the old seqs are
 * forgotten and delivery goes on from the page. A live entry of another epoch
 * is kept aside until a rejoin has told which history is current. Not
 * thread-safe: the client's event thread owns it.
 */
final class RoomTimeline {
    private final String room;
    private final TreeMap<Long, JSONObject> held = new TreeMap<>();
    private final List<JSONObject> otherEpoch = new ArrayList<>();
    private long last;
    private String epoch;
    private boolean ready;
    private boolean filling;
    private int duplicates;
    private int resets;

    RoomTimeline(String room, long since) {
        this.room = room;
        this.last = since;
    }

    String room() {
        return room;
    }

    long lastSeq() {
        return last;
    }

    /** The epoch of {@link #lastSeq()}, or null before the first page. */
    String epoch() {
        return epoch;
    }

    /** A join is in flight: hold live entries until its ack has been applied. */
    void rejoining() {
        ready = false;
    }

    /** Whether a hole is waiting and no history read is filling it yet. */
    boolean needsFill() {
        return ready && !filling && !held.isEmpty();
    }

    /** Whether a live entry of another epoch waits for a rejoin to tell the current history. */
    boolean needsRejoin() {
        return ready && !otherEpoch.isEmpty();
    }

    void filling(boolean value) {
        filling = value;
    }

    /** A live entry (a {@code message} event, or the message of one's own send ack). */
    List<JSONObject> offer(JSONObject entry) {
        List<JSONObject> delivered = new ArrayList<>();
        long seq = entry.optLong("seq", -1);
        String entryEpoch = entry.optString("epoch", "");
        if (epoch != null && !entryEpoch.isEmpty() && !entryEpoch.equals(epoch)) {
            otherEpoch.add(entry);
        } else if (seq <= last) {
            duplicates++;
        } else if (ready && seq == last + 1) {
            deliver(entry, delivered);
            drain(delivered);
        } else {
            held.put(seq, entry);
        }
        return delivered;
    }

    /**
     * A page of the log: a {@code join} ack ({@code history}) or a {@code history}
     * ack ({@code messages}). With {@code gap: true} the entries before the page
     * are gone (retention, or a history that started over), so delivery goes on
     * from the page's first entry.
     */
    List<JSONObject> applyPage(JSONObject ack, String entriesKey) {
        List<JSONObject> delivered = new ArrayList<>();
        String pageEpoch = ack.optString("epoch", "");
        JSONArray entries = ack.optJSONArray(entriesKey);
        int count = entries == null ? 0 : entries.length();
        if (ack.optBoolean("gap", false)) {
            if (epoch != null && !pageEpoch.isEmpty() && !pageEpoch.equals(epoch)) {
                resets++;
                held.clear();
            }
            if (count > 0) {
                last = Json.objectAt(entries, 0).optLong("seq") - 1;
            } else if (ack.has("last_seq")) {
                last = ack.optLong("last_seq");
            }
            held.headMap(last, true).clear();
        }
        if (!pageEpoch.isEmpty()) {
            epoch = pageEpoch;
        }
        ready = true;
        for (int i = 0; i < count; i++) {
            JSONObject entry = Json.objectAt(entries, i);
            long seq = entry.optLong("seq", -1);
            if (seq <= last) {
                duplicates++;
            } else if (seq == last + 1) {
                deliver(entry, delivered);
            } else {
                held.put(seq, entry);
            }
            drain(delivered);
        }
        drain(delivered);
        List<JSONObject> waiting = new ArrayList<>(otherEpoch);
        otherEpoch.clear();
        for (JSONObject entry : waiting) {
            if (entry.optString("epoch", "").equals(epoch)) {
                delivered.addAll(offer(entry));
            }
        }
        return delivered;
    }

    /** The hole is not in the log any more (history had nothing for it): go on from what is held. */
    List<JSONObject> skipHole() {
        List<JSONObject> delivered = new ArrayList<>();
        if (!held.isEmpty()) {
            last = held.firstKey() - 1;
            drain(delivered);
        }
        return delivered;
    }

    JSONObject state() {
        return Json.object("last_seq", last, "epoch", epoch, "ready", ready,
                "held", held.size(), "duplicates", duplicates, "resets", resets);
    }

    private void drain(List<JSONObject> delivered) {
        while (!held.isEmpty()) {
            Map.Entry<Long, JSONObject> first = held.firstEntry();
            if (first.getKey() <= last) {
                held.pollFirstEntry();
                duplicates++;
            } else if (first.getKey() == last + 1) {
                held.pollFirstEntry();
                deliver(first.getValue(), delivered);
            } else {
                return;
            }
        }
    }

    private void deliver(JSONObject entry, List<JSONObject> delivered) {
        last = entry.optLong("seq");
        delivered.add(entry);
    }
}

package chatio.puppet;

import io.socket.client.AckWithTimeout;
import io.socket.client.IO;
import io.socket.client.Manager;
import io.socket.client.Socket;
import io.socket.engineio.client.Transport;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * One {@code /chat} socket of the official Java client, used the way an
 * Android app without connection state recovery uses it: on every
 * (re)connect it rejoins each of its rooms with {@code since} = the last seq
 * it has and that seq's {@code epoch}, pages the rest in with
 * {@code history {after, epoch}}, and de-duplicates by seq
 * ({@link RoomTimeline}). Of a {@code message} event it takes only the first
 * argument; later ones (an offset) are ignored.
 *
 * <p>Everything runs on the client's event thread.
 */
final class ChatConnection {
    static final String NAMESPACE = "/chat";
    private static final int PAGE_LIMIT = 100;

    private final Output out;
    private final Socket socket;
    private final long ackTimeoutMs;
    private final Map<String, RoomTimeline> rooms = new LinkedHashMap<>();
    private Object connectRequest;
    private int connects;
    private String transport;

    ChatConnection(Output out, JSONObject request) {
        this.out = out;
        this.ackTimeoutMs = request.optLong("ackTimeoutMs", 10_000);
        this.connectRequest = request.opt("id");
        IO.Options options = IO.Options.builder()
                .setForceNew(true)
                .setAuth(Map.of("token", Json.text(request, "token")))
                .setTransports(transports(request.optJSONArray("transports")))
                .setReconnection(request.optBoolean("reconnection", true))
                .setReconnectionDelay(request.optLong("reconnectionDelayMs", 100))
                .setReconnectionDelayMax(request.optLong("reconnectionDelayMaxMs", 500))
                .setRandomizationFactor(0)
                .setTimeout(request.optLong("timeoutMs", 10_000))
                .build();
        socket = IO.socket(URI.create(Json.text(request, "url") + NAMESPACE), options);
        socket.io().on(Manager.EVENT_TRANSPORT, args -> transport = ((Transport) args[0]).name);
        socket.on(Socket.EVENT_CONNECT, args -> onConnect());
        socket.on(Socket.EVENT_DISCONNECT, args -> out.write(Json.object(
                "status", "disconnect", "reason", args.length > 0 ? Json.jsonValue(args[0]) : null)));
        socket.on(Socket.EVENT_CONNECT_ERROR, this::onConnectError);
        socket.onAnyIncoming(args -> out.write(Json.object(
                "event", String.valueOf(args[0]), "args", Json.array(rest(args)))));
        socket.on("message", this::onMessage);
    }

    void open() {
        socket.connect();
    }

    /**
     * {@code join {room, since?}}: {@code since} as given, or else the last seq the
     * app has of the room. The room is rejoined on every later connect.
     */
    void join(Object id, String room, Long since) {
        RoomTimeline known = rooms.get(room);
        RoomTimeline timeline = known != null ? known : new RoomTimeline(room, since == null ? 0 : since);
        rooms.put(room, timeline);
        Long from = since != null ? since : timeline.lastSeq() > 0 ? Long.valueOf(timeline.lastSeq()) : null;
        sendJoin(timeline, from, ack -> {
            if (known == null && !ack.optBoolean("ok", false)) {
                rooms.remove(room);
            }
            out.answer(id, Json.object("ack", ack));
        }, error -> {
            if (known == null) {
                rooms.remove(room);
            }
            out.fail(id, error);
        });
    }

    /** {@code message {room, text, client_id}}; the stored message joins the timeline. */
    void send(Object id, String room, String text, String clientId) {
        JSONObject payload = Json.object("room", room, "text", text, "client_id", clientId);
        withAck("message", payload, ack -> {
            JSONObject message = ack.optJSONObject("message");
            RoomTimeline timeline = rooms.get(room);
            if (ack.optBoolean("ok", false) && message != null && timeline != null) {
                report(timeline, timeline.offer(message));
            }
            out.answer(id, Json.object("ack", ack));
        }, error -> out.fail(id, error));
    }

    /** Any event with one payload and an ack, as it is: nothing else happens. */
    void call(Object id, String event, Object payload, long timeoutMs) {
        socket.emit(event, new Object[] {payload}, new AckWithTimeout(timeoutMs) {
            @Override
            public void onSuccess(Object... args) {
                out.answer(id, Json.object("ack", Json.array(args)));
            }

            @Override
            public void onTimeout() {
                out.fail(id, "no ack within " + timeoutMs + " ms, or the connection dropped");
            }
        });
    }

    /** Any event with one payload and no ack. */
    void emit(String event, Object payload) {
        socket.emit(event, payload);
    }

    JSONObject state() {
        JSONObject roomStates = new JSONObject();
        for (RoomTimeline timeline : rooms.values()) {
            Json.put(roomStates, timeline.room(), timeline.state());
        }
        return Json.object("connected", socket.connected(), "connects", connects,
                "transport", transport, "rooms", roomStates);
    }

    void close() {
        socket.disconnect();
        socket.close();
    }

    private void onConnect() {
        connects++;
        out.write(Json.object("status", "connect", "connects", connects, "transport", transport));
        if (connectRequest != null) {
            out.answer(connectRequest, Json.object("transport", transport));
            connectRequest = null;
        }
        for (RoomTimeline timeline : rooms.values()) {
            rejoin(timeline);
        }
    }

    /** join with the room's position; reported as {@code rejoined} or {@code rejoin_failed}. */
    private void rejoin(RoomTimeline timeline) {
        long since = timeline.lastSeq();
        String epoch = timeline.epoch();
        sendJoin(timeline, since,
                ack -> out.write(Json.object("rejoined", timeline.room(), "since", since,
                        "epoch", epoch, "ack", ack)),
                error -> out.write(Json.object("rejoin_failed", timeline.room(), "error", error)));
    }

    private void onConnectError(Object... args) {
        Object error = args.length > 0 ? Json.jsonValue(args[0]) : null;
        out.write(Json.object("status", "connect_error", "error", error));
        if (connectRequest != null) {
            out.write(Json.object("id", connectRequest, "ok", false, "error", "connect_error",
                    "data", error));
            connectRequest = null;
        }
    }

    private void onMessage(Object... args) {
        if (args.length == 0 || !(args[0] instanceof JSONObject)) {
            return;
        }
        JSONObject message = (JSONObject) args[0];
        RoomTimeline timeline = rooms.get(message.optString("room"));
        if (timeline == null) {
            return;
        }
        report(timeline, timeline.offer(message));
        if (timeline.needsRejoin()) {
            rejoin(timeline);
        } else if (timeline.needsFill()) {
            page(timeline);
        }
    }

    private void sendJoin(RoomTimeline timeline, Long since,
                          Consumer<JSONObject> onAck, Consumer<String> onError) {
        JSONObject payload = Json.object("room", timeline.room());
        if (since != null) {
            Json.put(payload, "since", since.longValue());
            if (timeline.epoch() != null) {
                Json.put(payload, "epoch", timeline.epoch());
            }
        }
        timeline.rejoining();
        withAck("join", payload, ack -> {
            if (ack.optBoolean("ok", false)) {
                report(timeline, timeline.applyPage(ack, "history"));
                if (ack.optBoolean("more", false) && since != null || timeline.needsFill()) {
                    page(timeline);
                }
            }
            onAck.accept(ack);
        }, onError);
    }

    /** Reads the log after the timeline's last seq, page after page while {@code more}. */
    private void page(RoomTimeline timeline) {
        timeline.filling(true);
        JSONObject payload = Json.object("room", timeline.room(), "after", timeline.lastSeq(),
                "limit", PAGE_LIMIT);
        if (timeline.epoch() != null) {
            Json.put(payload, "epoch", timeline.epoch());
        }
        withAck("history", payload, ack -> {
            if (!ack.optBoolean("ok", false)) {
                timeline.filling(false);
                return;
            }
            List<JSONObject> delivered = timeline.applyPage(ack, "messages");
            report(timeline, delivered);
            if (ack.optBoolean("more", false)) {
                page(timeline);
                return;
            }
            timeline.filling(false);
            if (timeline.needsFill() && delivered.isEmpty()) {
                report(timeline, timeline.skipHole());
            } else if (timeline.needsFill()) {
                page(timeline);
            }
        }, error -> timeline.filling(false));
    }

    private void withAck(String event, JSONObject payload, Consumer<JSONObject> onAck,
                         Consumer<String> onError) {
        socket.emit(event, new Object[] {payload}, new AckWithTimeout(ackTimeoutMs) {
            @Override
            public void onSuccess(Object... args) {
                if (args.length > 0 && args[0] instanceof JSONObject) {
                    onAck.accept((JSONObject) args[0]);
                } else {
                    onError.accept(event + ": the ack is not an object: " + Json.array(args));
                }
            }

            @Override
            public void onTimeout() {
                onError.accept(event + ": no ack within " + ackTimeoutMs
                        + " ms, or the connection dropped");
            }
        });
    }

    private void report(RoomTimeline timeline, List<JSONObject> delivered) {
        for (JSONObject entry : delivered) {
            out.write(Json.object("delivered", entry, "room", timeline.room()));
        }
    }

    private static String[] transports(JSONArray names) {
        if (names == null || names.length() == 0) {
            return new String[] {"websocket"};
        }
        String[] result = new String[names.length()];
        for (int i = 0; i < result.length; i++) {
            result[i] = names.optString(i);
        }
        return result;
    }

    private static Object[] rest(Object[] args) {
        Object[] result = new Object[Math.max(0, args.length - 1)];
        System.arraycopy(args, 1, result, 0, result.length);
        return result;
    }
}

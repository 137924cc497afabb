package chatio.puppet;

import io.socket.thread.EventThread;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import org.json.JSONObject;

/**
 * The official Socket.IO client for Java, driven over stdin/stdout with one
 * JSON object per line, so that Python tests which start and stop chatio
 * nodes can use it. One process holds one {@code /chat} socket.
 *
 * <p>Requests, each with an {@code id}, answered {@code {"id", "ok": true, ...}}
 * or {@code {"id", "ok": false, "error"}}:
 * <ul>
 * <li>{@code {"op": "connect", "url", "token", "transports": ["websocket"],
 *     "reconnection": true, "reconnectionDelayMs": 100, "reconnectionDelayMaxMs": 500,
 *     "ackTimeoutMs": 10000}}: the token goes in {@code auth}; answered on the first
 *     connect, or with {@code "error": "connect_error", "data"} on a refusal.</li>
 * <li>{@code {"op": "join", "room", "since"?}}: answers {@code {"ack"}}.</li>
 * <li>{@code {"op": "send", "room", "text", "client_id"}}: answers {@code {"ack"}}.</li>
 * <li>{@code {"op": "call", "event", "payload", "timeoutMs"}}: any event with an ack,
 *     as it is; answers {@code {"ack": [args...]}}.</li>
 * <li>{@code {"op": "emit", "event", "payload"}}: any event without an ack.</li>
 * <li>{@code {"op": "state"}}: {@code connected}, {@code connects}, {@code transport},
 *     and per room {@code last_seq}, {@code epoch}, {@code ready}, {@code held},
 *     {@code duplicates}, {@code resets} (histories seen starting over).</li>
 * <li>{@code {"op": "close"}}, {@code {"op": "exit"}}.</li>
 * </ul>
 *
 * <p>Reports, without an id: {@code {"status": "connect" | "disconnect" |
 * "connect_error", ...}}; {@code {"event", "args"}} for every event received;
 * {@code {"delivered": entry, "room"}} for each log entry the app shows, in seq
 * order, each once; {@code {"rejoined": room, "since", "epoch", "ack"}} or
 * {@code {"rejoin_failed": room, "error"}} after each automatic rejoin.
 */
public final class Main {
    private final Output out = new Output();
    private ChatConnection connection;

    public static void main(String[] args) throws IOException {
        new Main().run();
    }

    private void run() throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            JSONObject request;
            try {
                request = Json.parse(line);
            } catch (IllegalArgumentException e) {
                out.fail(null, e.getMessage());
                continue;
            }
            if ("exit".equals(request.optString("op"))) {
                break;
            }
            EventThread.exec(() -> handle(request));
        }
        EventThread.exec(() -> {
            if (connection != null) {
                connection.close();
            }
            System.exit(0);
        });
    }

    private void handle(JSONObject request) {
        Object id = request.opt("id");
        try {
            String op = request.optString("op");
            if ("connect".equals(op)) {
                if (connection != null) {
                    throw new IllegalStateException("already connected");
                }
                connection = new ChatConnection(out, request);
                connection.open();
                return;
            }
            if (connection == null) {
                throw new IllegalStateException("connect first");
            }
            switch (op) {
                case "join":
                    connection.join(id, Json.text(request, "room"),
                            request.has("since") ? request.optLong("since") : null);
                    break;
                case "send":
                    connection.send(id, Json.text(request, "room"), Json.text(request, "text"),
                            Json.text(request, "client_id"));
                    break;
                case "call":
                    connection.call(id, Json.text(request, "event"), request.opt("payload"),
                            request.optLong("timeoutMs", 10_000));
                    break;
                case "emit":
                    connection.emit(Json.text(request, "event"), request.opt("payload"));
                    out.answer(id, new JSONObject());
                    break;
                case "state":
                    out.answer(id, connection.state());
                    break;
                case "close":
                    connection.close();
                    out.answer(id, new JSONObject());
                    break;
                default:
                    throw new IllegalArgumentException("unknown op " + op);
            }
        } catch (RuntimeException e) {
            out.fail(id, e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }
}

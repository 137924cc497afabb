// The chatio node under test: the same helper the protocol suite uses.
export { ChatioServer, startServer, freePort, ARTIFACTS_DIR, CHATIO_BIN } from "../../../tests/js/support/server.mjs";
export { signToken } from "../../../tests/js/support/tokens.mjs";

export { ChatClient } from "./ChatClient.js";
export { ChatError } from "./ChatError.js";
export { Emitter } from "./Emitter.js";
export { RoomTimeline } from "./RoomTimeline.js";
export { MemberSet } from "./MemberSet.js";
export * as constants from "./constants.js";

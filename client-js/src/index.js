export { ChatClient } from "./ChatClient.js";
export { ChatError } from "./ChatError.js";
export { RoomTimeline } from "./RoomTimeline.js";
export { MemberSet } from "./MemberSet.js";
export * as constants from "./constants.js";

import { MemberSet } from "./MemberSet.js";
import { ReadTracker } from "./ReadTracker.js";
import { RoomTimeline } from "./RoomTimeline.js";
import { TypingSet } from "./TypingSet.js";

/** What the client keeps for one room it has joined. */
export class RoomState {
  constructor(name, deliver) {
    this.name = name;
    this.timeline = new RoomTimeline(deliver);
    this.members = new MemberSet();
    this.typing = new TypingSet();
    this.read = new ReadTracker();
    /** Joined on the current /chat connection, with the missed messages in. */
    this.ready = false;
    this.gapTimer = null;
    this.filling = false;
    this.settled = false;
    this.joined = new Promise((resolve, reject) => {
      this.resolveJoined = () => {
        this.settled = true;
        resolve();
      };
      this.rejectJoined = (error) => {
        this.settled = true;
        reject(error);
      };
    });
    // A join nobody awaits must not be reported as an unhandled rejection.
    this.joined.catch(() => {});
  }
}

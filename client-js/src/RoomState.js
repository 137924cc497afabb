import { MemberSet } from "./MemberSet.js";
import { ReadTracker } from "./ReadTracker.js";
import { RoomTimeline } from "./RoomTimeline.js";
import { TypingSet } from "./TypingSet.js";

/** What the client keeps for one room it has joined. */
export class RoomState {
  /**
   * `deliver(message)` gets the room's entries in order; `onNewEpoch(epoch)`
   * hears of an entry from a history that started over.
   */
  constructor(name, { deliver, onNewEpoch }) {
    this.name = name;
    this.timeline = new RoomTimeline(deliver, { onNewEpoch });
    this.members = new MemberSet();
    this.typing = new TypingSet();
    this.read = new ReadTracker();
    /** Joined on the current /chat connection, with the missed messages in. */
    this.ready = false;
    /**
     * What the node holds for this client, as of its last connection: the
     * /chat room joined, the /presence and /typing subscriptions. A recovered
     * connection still has them.
     */
    this.onServer = { chat: false, presence: false, typing: false };
    /** Counts catch-ups: a newer one makes an older one stop. */
    this.catchUps = 0;
    this.catchingUp = false;
    /** A catch-up was asked for while one ran: it runs again. */
    this.resyncWanted = false;
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

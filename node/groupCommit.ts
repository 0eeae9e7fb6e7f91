/**
 * Group commit: the syncs the engines ask for during one turn of the event
 * loop become one SQLite commit, so one fsync makes many writes durable (as
 * etcd's WAL does) instead of one fsync per client call and per peer message,
 * each blocking the loop. The kernel's contract holds unchanged: nothing that
 * relies on a sync leaves before it. Peer frames go out only through
 * PeerLinks, which commits first (`beforeSend`); the API answers a call only
 * after `durable()`. The commit runs at the latest when the current I/O
 * callbacks are done (setImmediate), so every sync asked for reaches the disk
 * whether or not anything waits for it.
 */
export class GroupCommit {
  private readonly commit: () => void
  private pending = false
  private scheduled = false
  private waiters: (() => void)[] = []
  /** Commits done and syncs they covered: how well syncs are grouped. */
  commits = 0
  syncsRequested = 0

  /** `commit` makes every write so far durable (SqliteStorage.commitNow). */
  constructor(commit: () => void) {
    this.commit = commit
  }

  /** An engine asked for a sync: it happens at the latest once the current I/O callbacks are done. */
  requested(): void {
    this.pending = true
    this.syncsRequested++
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.flush()
    })
  }

  /** Commits now if a sync waits (before a frame leaves), then lets the waiting replies go. */
  flush(): void {
    if (!this.pending) return
    this.pending = false
    this.commit()
    this.commits++
    const waiters = this.waiters
    this.waiters = []
    for (const resolve of waiters) resolve()
  }

  /** Resolves once every sync asked for so far is done; null when none waits. */
  durable(): Promise<void> | null {
    if (!this.pending) return null
    return new Promise((resolve) => this.waiters.push(resolve))
  }
}

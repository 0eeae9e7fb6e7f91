/** The host kernel's public API: what node/, durable-objects/ and sim/ import. */
export { driveUntilIdle, driverLimits, type DriverPorts } from './driver.ts'
export { EventLog, eventLogLimits, Subscription, type EventLogOptions, type FeedItem } from './eventLog.ts'
export { HostKernel, type CallOutcome, type KernelOptions, type KernelStatus, type RequestBinding } from './kernel.ts'
export type { MonotonicClock, StorageWriter, Transport } from './ports.ts'
export { RequestTable, requestLimits } from './requests.ts'
export { TickSchedule, tickLimits, type TickScheduleOptions } from './ticks.ts'
export { messageIdStartOf, PeerFrames, type PeerFrameMetrics, type PeerFrameResult, type PeerFramesOptions } from './peerFrames.ts'
export { ReplicaHost, replicaRequests, type HostSnapshot, type ReplicaCall, type ReplicaHostOptions } from './replicaHost.ts'

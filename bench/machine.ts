import { cpus, platform, totalmem } from 'node:os'
import type { MachineInfo } from './report.ts'

export function machineInfo(): MachineInfo {
  const list = cpus()
  return { cpus: list.length, cpuModel: list[0]?.model ?? 'unknown', memoryBytes: totalmem(), node: process.version, platform: platform() }
}

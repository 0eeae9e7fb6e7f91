/**
 * The cluster configuration a replica last applied, kept in two checksummed
 * slots (a torn write spoils only the slot it overwrote). It is written in
 * the Ready after the one that applied it, with mustSync, so it is durable
 * before any message that depends on it (a probe of a new member, a reply to
 * the join) leaves; a restart starts from it when it is newer than the
 * configuration the replica was built with.
 */
import { TwoSlotRecord } from '../codec/record.ts'
import { readConfiguration, writeConfiguration, type ClusterConfiguration } from './clusterConfiguration.ts'
import { replicaStorageKeys } from './incarnation.ts'

export function configurationRecord(): TwoSlotRecord<ClusterConfiguration> {
  return new TwoSlotRecord<ClusterConfiguration>({
    keys: replicaStorageKeys.configurationSlots,
    writeBody: writeConfiguration,
    readBody: readConfiguration,
    what: 'cluster configuration',
  })
}

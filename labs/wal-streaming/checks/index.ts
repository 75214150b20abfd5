/**
 * The shared grading library by name: judgments of replication state any lab may use; a lab's
 * manifest refers to them by these keys (and to its own, from labs/<id>/checks/, by theirs).
 */
import * as afterwards from './afterwards.js';
import * as prep from './prep.js';
import * as promotion from './promotion.js';
import * as shipping from './shipping.js';
import * as standby from './standby.js';
import * as startup from './startup.js';
import * as streaming from './streaming.js';
import type { CheckFn } from '../../../src/checks/index.js';

export const CHECKS: Record<string, CheckFn> = {
  'prep.sameMajorAndArch': prep.sameMajorAndArch,
  'prep.configBackups': prep.configBackups,
  'prep.sshRsyncInstalled': prep.sshRsyncInstalled,
  'prep.sshdRunning': prep.sshdRunning,
  'prep.passwordlessSsh': prep.passwordlessSsh,
  'shipping.archiveDir': shipping.archiveDir,
  'shipping.archiveDirWritable': shipping.archiveDirWritable,
  'shipping.walSettings': shipping.walSettings,
  'shipping.archiveSettings': shipping.archiveSettings,
  'shipping.confReadable': shipping.confReadable,
  'shipping.listenAddresses': shipping.listenAddresses,
  'shipping.segmentsArrived': shipping.segmentsArrived,
  'shipping.baseBackupTaken': shipping.baseBackupTaken,
  'shipping.esclavoIsClone': shipping.esclavoIsClone,
  'shipping.tarballCleaned': shipping.tarballCleaned,
  'standby.hotStandbyOn': standby.hotStandbyOn,
  'standby.standbyConfigured': standby.standbyConfigured,
  'standby.maestroListensInFile': standby.maestroListensInFile,
  'standby.hbaReplicationRule': standby.hbaReplicationRule,
  'standby.replicationConnection': standby.replicationConnection,
  'startup.maestroRestarted': startup.maestroRestarted,
  'startup.esclavoUp': startup.esclavoUp,
  'startup.esclavoInRecovery': startup.esclavoInRecovery,
  'startup.esclavoAnswersReads': startup.esclavoAnswersReads,
  'streaming.walSenderProcess': streaming.walSenderProcess,
  'streaming.replicationView': streaming.replicationView,
  'streaming.walReceiverProcess': streaming.walReceiverProcess,
  'streaming.rowsReplicated': streaming.rowsReplicated,
  'streaming.studentTableReplicated': streaming.studentTableReplicated,
  'streaming.esclavoRefusesWrites': streaming.esclavoRefusesWrites,
  'promotion.esclavoPromoted': promotion.esclavoPromoted,
  'promotion.promotedAndWritable': promotion.promotedAndWritable,
  'promotion.promotedProperly': promotion.promotedProperly,
  'promotion.timelineAdvanced': promotion.timelineAdvanced,
  'promotion.rowsKept': promotion.rowsKept,
  'promotion.archiveCleaned': promotion.archiveCleaned,
  'promotion.recoveryDoneCleaned': promotion.recoveryDoneCleaned,
  'promotion.noTriggerOnMaestro': promotion.noTriggerOnMaestro,
  // Fallbacks: the same requirements judged from surviving evidence and the flight recorder.
  'afterwards.streamedFromMaestro': afterwards.streamedFromMaestro,
  'afterwards.ranAsHotStandby': afterwards.ranAsHotStandby,
  'afterwards.tableKeptOnClone': afterwards.tableKeptOnClone,
  'afterwards.replayedFromMaestro': afterwards.replayedFromMaestro,
  'afterwards.archivedToEsclavo': afterwards.archivedToEsclavo,
  'afterwards.wasConfiguredAsStandby': afterwards.wasConfiguredAsStandby,
};

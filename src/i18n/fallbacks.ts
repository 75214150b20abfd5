/**
 * What a fallback check looked for and why it did not prove the requirement, in the reader's words
 * ("también se buscó: el registro del streaming maestro → esclavo (no hay registro)"), never the
 * check's internal name or reason code.
 */
import { lang } from './index.js';

type Text = [es: string, en: string];

const WHAT: Record<string, Text> = {
  'afterwards.streamedFromMaestro': ['el registro del streaming maestro → esclavo', 'the record of maestro → esclavo streaming'],
  'afterwards.ranAsHotStandby': ['el registro del esclavo en recuperación', 'the record of esclavo in recovery'],
  'afterwards.tableKeptOnClone': ['tu tabla con sus filas en el esclavo y en el maestro', 'your table with its rows on esclavo and maestro'],
  'afterwards.replayedFromMaestro': ['el registro del esclavo aplicando WAL del maestro', 'the record of esclavo replaying maestro’s WAL'],
  'afterwards.archivedToEsclavo': ['segmentos WAL que el maestro archivó en el esclavo (.done)', 'WAL segments maestro archived to esclavo (.done)'],
  'afterwards.wasConfiguredAsStandby': ['la configuración de standby que usó el esclavo', 'the standby configuration esclavo ran with'],
  'failback.maestroReplayedEsclavoTimeline': ['el maestro visto como esclavo del esclavo promovido, y su historia de líneas de tiempo', 'maestro seen as a standby of the promoted esclavo, and its timeline history'],
};

const WHY: Record<string, Text> = {
  'not-recorded': ['no hay registro', 'nothing recorded'],
  'not-clone': ['el esclavo no es un clon del maestro', 'esclavo is not a clone of maestro'],
  down: ['un servidor está detenido', 'a server is stopped'],
  'missing-on-esclavo': ['no está en el esclavo', 'not on esclavo'],
  'no-table': ['el maestro no tiene ninguna tabla tuya con filas', 'maestro has no table of yours with rows'],
  'nothing-archived': ['el maestro no archivó ningún segmento WAL', 'maestro archived no WAL segment'],
  'other-destination': ['archive_command no copia al esclavo', 'archive_command does not copy to esclavo'],
  'never-standby': ['el esclavo nunca corrió como standby', 'esclavo never ran as a standby'],
  'no-history': ['la historia de líneas de tiempo no muestra la del esclavo', 'the timeline history does not show esclavo’s'],
  'never-streamed': ['nunca se vio al maestro recibiendo WAL del esclavo por streaming', 'maestro was never seen receiving WAL from esclavo by streaming'],
  'other-cluster': ['maestro y esclavo no son el mismo cluster', 'maestro and esclavo are not the same cluster'],
  'two-primaries': ['el esclavo sigue siendo primario en su línea de tiempo', 'esclavo is still a primary on its timeline'],
};

/** "what (why)" for one fallback that did not pass. */
export function fallbackText(check: string, reason: string | undefined): string {
  const i = lang() === 'en' ? 1 : 0;
  const what = WHAT[check]?.[i] ?? (i ? 'other evidence' : 'otra evidencia');
  const why = (reason && WHY[reason]?.[i]) ?? (i ? 'not enough' : 'no alcanza');
  return `${what} (${why})`;
}

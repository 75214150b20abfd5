/** lab images [build | save | load | push | pull]: the lab images on this Docker, and moving them between machines. */
import type { Command } from 'commander';
import { requireDocker } from '../docker/objects.js';
import { loadBundle, saveBundle } from '../images/bundle.js';
import { mib, pullLabImage, pushLabImage } from '../images/distribute.js';
import { buildImage, imageStatus, listImages, type ImageStatus } from '../images/images.js';
import { enginePlatform, foreignArch, LAB_ARCHES, platformArch } from '../images/recipe.js';
import { normalizeRegistry, probeRegistry } from '../images/registry.js';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import { isPgMajor, PG_MAJORS, type PgMajor } from '../pg/profile.js';
import { progressLine } from './io.js';

/** `--pg 9.1 15`, `--pg 9.1,15` or nothing (every version). */
export function parsePgList(raw: string[] | string | undefined): PgMajor[] {
  if (raw === undefined) return [...PG_MAJORS];
  const values = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (!values.length) return [...PG_MAJORS];
  for (const v of values) if (!isPgMajor(v)) throw new LabError('cli.badPg', { pg: v });
  return PG_MAJORS.filter((m) => values.includes(m));
}

/** `--platform linux/amd64 linux/arm64` or `linux/amd64,linux/arm64`; undefined: the engine's own. */
export function parsePlatformList(raw: string[] | string | undefined): Array<string | undefined> {
  const values = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (!values.length) return [undefined];
  const seen = new Set<string>();
  return values.filter((v) => {
    const arch = platformArch(v)!;
    if (seen.has(arch)) return false;
    seen.add(arch);
    return true;
  });
}

function stateText(s: ImageStatus): string {
  if (s.state === 'current') return t('images.current');
  if (s.state === 'stale') return t('images.stale', { wanted: s.wanted });
  return t('images.missing');
}

export function imagesTable(rows: ImageStatus[]): string {
  const header = t('images.col').split('|');
  const lines = rows.map((s) => [s.tag, s.major, s.recipe ?? '—', s.size ? `${mib(s.size)} MiB` : '—', s.arch ?? '—', stateText(s)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  return [header, ...lines].map((l) => l.map((c, i) => (i === l.length - 1 ? String(c) : String(c).padEnd(widths[i]!))).join('  ')).join('\n');
}

export function registerImageCommands(program: Command): void {
  const images = program.command('images')
    .description('imágenes del laboratorio: listar, construir, paquetes y registros / lab images: list, build, bundles, registries')
    .option('--json', 'salida JSON / JSON output')
    .action(async (opts) => {
      await requireDocker();
      const rows = await listImages();
      if (opts.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      console.log(imagesTable(rows));
      const missing = rows.filter((r) => r.state !== 'current');
      if (missing.length) console.log('\n' + t('images.hint', { pg: missing.map((r) => r.major).join(' ') }));
    });

  images.command('build')
    .description('construye las que faltan o están desactualizadas / build missing or stale images')
    .option('--pg <versions...>', '9.1 13 15 17 (por defecto todas / default all)')
    .option('--platform <platform>', 'linux/amd64 | linux/arm64 (otra plataforma, si el motor puede / another platform, if the engine can)')
    .option('--no-cache', 'sin la caché de capas de Docker / without Docker\'s layer cache')
    .action(async (opts) => {
      await requireDocker();
      const majors = parsePgList(opts.pg);
      const foreign = await foreignArch(opts.platform); // also refuses a malformed --platform before any build
      for (const major of majors) {
        const before = await imageStatus(major, foreign);
        if (before.state !== 'current' || opts.cache === false) {
          await buildImage(major, progressLine, { noCache: opts.cache === false, platform: opts.platform }, before.state);
        }
        const after = await imageStatus(major, foreign);
        console.log(t('images.built', { tag: after.tag, recipe: after.recipe ?? '—' }));
      }
    });

  images.command('save <file>')
    .description('guarda imágenes en un paquete (un archivo) / save images to one bundle file')
    .option('--pg <versions...>', '9.1 13 15 17 (por defecto todas / default all)')
    .option('--platform <platforms...>', 'linux/amd64 linux/arm64 (una o las dos; por defecto la de este Docker / one or both; default this Docker\'s)')
    .action(async (file: string, opts) => {
      await requireDocker();
      const majors = parsePgList(opts.pg);
      const platforms = parsePlatformList(opts.platform);
      const manifest = await saveBundle(file, majors, progressLine, platforms);
      console.log(t('images.saved', { file, mib: mib(manifest.payload.bytes), images: manifest.images.map((i) => `${i.pg} (${i.arch})`).join(', ') }));
    });

  images.command('load <file>')
    .description('carga un paquete hecho con `lab images save` / load a bundle made by `lab images save`')
    .action(async (file: string) => {
      await requireDocker();
      const { results } = await loadBundle(file, progressLine);
      for (const r of results) {
        if (r.used) console.log(t('images.loaded', { tag: r.tag, recipe: r.recipe }));
        else {
          console.error(t('images.loadedStale', { tag: r.tag, recipe: r.recipe, wanted: (await imageStatus(r.pg)).wanted }));
          process.exitCode = 1;
        }
      }
    });

  images.command('push <registry>')
    .description('sube imágenes a un registro / push images to a registry')
    .option('--pg <versions...>', '9.1 13 15 17 (por defecto todas / default all)')
    .action(async (registry: string, opts) => {
      await requireDocker();
      const majors = parsePgList(opts.pg);
      // Unreachable, or wants a login: said before anything is built.
      await probeRegistry(normalizeRegistry(registry));
      const { arch: engineArch } = await enginePlatform();
      for (const major of majors) {
        const status = await imageStatus(major);
        if (status.state !== 'current') await buildImage(major, progressLine, {}, status.state);
        // An image of another architecture built here earlier (--platform) goes along, rebuilt if its
        // recipe is old: the manifest list then names both, not only the engine's.
        for (const arch of LAB_ARCHES.filter((a) => a !== engineArch)) {
          const other = await imageStatus(major, arch);
          if (other.state === 'stale') await buildImage(major, progressLine, { platform: `linux/${arch}` }, 'stale');
        }
        const refs = await pushLabImage(registry, major, progressLine);
        console.log(t('images.pushed', { tag: status.tag, refs: refs.join(', ') }));
      }
    });

  images.command('pull <registry>')
    .description('descarga imágenes de un registro / pull images from a registry')
    .option('--pg <versions...>', '9.1 13 15 17 (por defecto todas / default all)')
    .option('--platform <platform>', 'linux/amd64 | linux/arm64')
    .action(async (registry: string, opts) => {
      await requireDocker();
      platformArch(opts.platform);
      for (const major of parsePgList(opts.pg)) {
        const r = await pullLabImage(registry, major, progressLine, { platform: opts.platform });
        if (r.used) console.log(t('images.pulledOk', { tag: r.tag, recipe: r.recipe }));
        else {
          console.error(t('registry.pullStale', { tag: r.tag, registry, recipe: r.recipe, wanted: (await imageStatus(major)).wanted }));
          process.exitCode = 1;
        }
      }
    });
}

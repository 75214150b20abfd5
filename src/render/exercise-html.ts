/**
 * An exercise as HTML for the browser pages (`lab web`, the class portal): this env's facts filled in,
 * raw HTML in the markdown shown as text, links only to http(s) or within the page.
 */
import type { Lang } from '../i18n/index.js';
import { renderExerciseSource } from '../lab/exercise.js';
import type { PgMajor } from '../pg/profile.js';
import { escapeHtml } from './escape.js';

export async function exerciseHtml(lab: string, lang: Lang, file: string, pg: PgMajor, facts: Record<string, string>): Promise<string> {
  const { Marked } = await import('marked');
  const md = renderExerciseSource(lab, lang, file, pg, facts);
  const marked = new Marked({
    renderer: {
      html: (tok) => escapeHtml(tok.text),
      link(tok) {
        const ok = /^(https?:|#)/i.test(tok.href);
        return ok ? `<a href="${escapeHtml(tok.href)}" rel="noreferrer">${this.parser.parseInline(tok.tokens)}</a>` : this.parser.parseInline(tok.tokens);
      },
      image: (tok) => escapeHtml(tok.text),
    },
  });
  return marked.parse(md, { async: false }) as string;
}

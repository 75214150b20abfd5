import { MESSAGES, type Lang, type MessageKey } from './messages.js';

export type { Lang, MessageKey };

let current: Lang = pickLang(process.env.LAB_LANG);

/** Spanish unless asked otherwise (--lang / LAB_LANG). */
export function pickLang(raw: string | undefined): Lang {
  return raw?.toLowerCase().startsWith('en') ? 'en' : 'es';
}

export function setLang(lang: Lang): void {
  current = lang;
}

export function lang(): Lang {
  return current;
}

export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  return fill(MESSAGES[current][key] ?? key, params);
}

export function fill(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

/** Picks the current language from a `{ es, en }` pair found in lab data. */
export function localized(text: { es: string; en?: string } | string): string {
  if (typeof text === 'string') return text;
  return (current === 'en' ? text.en : undefined) ?? text.es;
}

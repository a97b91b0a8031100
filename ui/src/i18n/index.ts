// i18next set up for the console: zh-CN by default, the choice kept in localStorage.
import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import { DEFAULT_LANGUAGE, dictionaries, isLanguage, type Language, type Messages } from './messages';

declare module 'i18next' {
  interface CustomTypeOptions {
    defaultNS: 'translation';
    resources: { translation: Messages };
  }
}

const STORAGE_KEY = 'herald.language';

/** storedLanguage returns the language chosen earlier in this browser, or the default. */
export function storedLanguage(): Language {
  try {
    const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
    return isLanguage(saved) ? saved : DEFAULT_LANGUAGE;
  } catch {
    return DEFAULT_LANGUAGE;
  }
}

/** setLanguage switches the console's language and remembers the choice. */
export async function setLanguage(language: Language): Promise<void> {
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, language);
  } catch {
    // Storage may be disabled; the switch still applies to this page.
  }
  document.documentElement.lang = language;
  await i18n.changeLanguage(language);
}

void i18n.use(initReactI18next).init({
  resources: {
    'zh-CN': { translation: dictionaries['zh-CN'] },
    en: { translation: dictionaries.en },
  },
  lng: storedLanguage(),
  fallbackLng: DEFAULT_LANGUAGE,
  supportedLngs: Object.keys(dictionaries),
  interpolation: { escapeValue: false }, // React escapes already.
});

export default i18n;

// The zh-CN / English switch shown on every page.
import { Segmented } from 'antd';
import { useTranslation } from 'react-i18next';
import { setLanguage } from '../i18n';
import { isLanguage, LANGUAGES, type Language } from '../i18n/messages';

export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  const current: Language = isLanguage(i18n.language) ? i18n.language : 'zh-CN';
  return (
    <Segmented<Language>
      aria-label={t('language.label')}
      size="small"
      value={current}
      options={LANGUAGES.map((lng) => ({ value: lng, label: t(`language.${lng}`) }))}
      onChange={(lng) => void setLanguage(lng)}
    />
  );
}

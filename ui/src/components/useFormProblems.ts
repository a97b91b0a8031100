// Showing problems on a form's fields: the console's own checks (lib/forms) and the API's
// errors that name a field, each on that field; an error without a field is returned for the
// page to show as a message (by its code, never as raw JSON).
import type { CombinedError } from '@urql/core';
import type { FormInstance } from 'antd';
import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { errorCode, fieldErrors, showFieldErrors, type FieldPath } from '../graphql/errors';
import type { ErrorCode } from '../graphql/types';
import type { FormProblem } from '../lib/forms';

export interface FormProblems {
  /** show puts the console's problems on their fields; true when there were any. */
  show: (problems: readonly FormProblem[]) => boolean;
  /**
   * showApiError puts each error that names a known field on it and returns the code of what
   * is left to show as a message, or null when everything found its field.
   */
  showApiError: (error: CombinedError) => ErrorCode | null;
}

export function useFormProblems<T>(form: FormInstance<T>, known: (path: FieldPath) => boolean, argument = 'input'): FormProblems {
  const { t } = useTranslation();

  const show = useCallback(
    (problems: readonly FormProblem[]) => {
      const byPath = new Map<string, { name: FieldPath; errors: string[] }>();
      for (const p of problems) {
        const key = JSON.stringify(p.path);
        const entry = byPath.get(key) ?? { name: p.path, errors: [] };
        // Keys come from lib/forms, each of which the dictionaries hold (forms.test.ts).
        entry.errors.push(t(`form.${p.key}` as 'form.required', p.values ?? {}));
        byPath.set(key, entry);
      }
      if (byPath.size > 0) {
        form.setFields([...byPath.values()] as Parameters<typeof form.setFields>[0]);
      }
      return problems.length > 0;
    },
    [form, t],
  );

  const showApiError = useCallback(
    (error: CombinedError) => {
      const errs = fieldErrors(error, argument);
      const target = { setFields: (f: { name: FieldPath; errors: string[] }[]) => form.setFields(f as Parameters<typeof form.setFields>[0]) };
      const rest = showFieldErrors(target, errs, known);
      if (errs.length > 0 && rest.length === 0) {
        return null;
      }
      return rest[0]?.code ?? errorCode(error);
    },
    [form, known, argument],
  );

  return { show, showApiError };
}

// The live preview of an audience being written: which input to ask previewAudience about
// (only one the form's own checks pass), a debouncer so a burst of keystrokes sends one
// request, and where the API's refusal of the preview belongs on the form.
import type { CombinedError } from '@urql/core';
import { fieldErrors } from '../graphql/errors';
import type { AudiencePreviewInput } from '../graphql/types';
import { buildAudienceInput, type AudienceFormValues } from './forms';

/** PREVIEW_DELAY_MS is how long the form waits after the last keystroke before asking. */
export const PREVIEW_DELAY_MS = 400;

/** PREVIEW_SAMPLE is how many users the preview shows (the API allows up to 20). */
export const PREVIEW_SAMPLE = 10;

/**
 * previewInput is what to send previewAudience for the form's values, or null when there is
 * nothing worth asking: no kind, an empty expression or list, or one the form already refuses.
 * The name is not needed for a preview.
 */
export function previewInput(appId: string, v: AudienceFormValues): AudiencePreviewInput | null {
  if (!v.kind) {
    return null;
  }
  const built = buildAudienceInput(appId, { ...v, name: 'preview' });
  if (!built.input) {
    return null;
  }
  const { name: _name, ...rest } = built.input;
  return { ...rest, sampleSize: PREVIEW_SAMPLE };
}

/** previewKey is a stable text of an input, so equal inputs ask once. */
export function previewKey(input: AudiencePreviewInput | null): string | null {
  return input ? JSON.stringify(input) : null;
}

/** A debounced function: call schedules fn with the latest arguments; cancel drops it. */
export interface Debounced<A extends unknown[]> {
  call: (...args: A) => void;
  cancel: () => void;
}

/** debounce runs fn once calls have stopped for ms, with the arguments of the last call. */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): Debounced<A> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return {
    call: (...args: A) => {
      if (timer !== null) {
        clearTimeout(timer);
      }
      timer = setTimeout(() => {
        timer = null;
        fn(...args);
      }, ms);
    },
    cancel: () => {
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
    },
  };
}

/** The form field a preview error belongs on, with the API's message. */
export interface PreviewProblem {
  field: 'expression' | 'userIds' | 'kind';
  message: string;
}

/**
 * previewProblem places the API's refusal of a preview on the form's field: tagExpr and
 * segment share the expression field, userIds[i] lands on the list. Null when the error
 * names no field of the form (the page then shows it by its code).
 */
export function previewProblem(error: CombinedError | undefined): PreviewProblem | null {
  if (!error) {
    return null;
  }
  for (const e of fieldErrors(error)) {
    const head = e.path[0];
    if (head === 'tagExpr' || head === 'segment') {
      return { field: 'expression', message: e.message };
    }
    if (head === 'userIds' || head === 'kind') {
      return { field: head, message: e.message };
    }
  }
  return null;
}

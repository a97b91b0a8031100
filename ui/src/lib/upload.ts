// Uploading a CSV file of users (importUsers) as a GraphQL multipart request, with the upload's
// progress. The session cookie authenticates it together with the X-Herald-Console header,
// which a page of another site cannot send (see server/http.go, isConsoleUpload).
import { CombinedError, stringifyDocument } from '@urql/core';
import { ImportUsersMutation } from '../graphql/documents';
import { errorCode } from '../graphql/errors';
import type { ErrorCode, ImportReport } from '../graphql/types';

/** The most a CSV file may weigh (the API's upload limit). */
export const MAX_UPLOAD_BYTES = 256 << 20;

/**
 * multipartFields are the parts of the request, in order (the GraphQL multipart request
 * spec): the operation with the file variable null, the map that puts part "0" there, and
 * the file.
 */
export function multipartFields(appId: string, file: Blob): [string, string | Blob][] {
  const operations = {
    query: stringifyDocument(ImportUsersMutation),
    operationName: 'ImportUsers',
    variables: { appId, file: null },
  };
  return [
    ['operations', JSON.stringify(operations)],
    ['map', JSON.stringify({ 0: ['variables.file'] })],
    ['0', file],
  ];
}

export type UploadAnswer = { ok: true; report: ImportReport } | { ok: false; code: ErrorCode; message: string | null };

/** readAnswer reads the HTTP status and body of the upload. */
interface Answer {
  data?: { importUsers?: ImportReport } | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

function parse(body: string): Answer | null {
  try {
    const v: unknown = JSON.parse(body);
    return v !== null && typeof v === 'object' ? (v as Answer) : null;
  } catch {
    return null;
  }
}

export function readAnswer(status: number, body: string): UploadAnswer {
  const parsed = parse(body);
  const report = parsed?.data?.importUsers;
  if (report && !parsed?.errors?.length) {
    return { ok: true, report };
  }
  const errors = parsed?.errors ?? [];
  const combined = new CombinedError({
    graphQLErrors: errors.map((e) => ({ message: e.message, extensions: e.extensions ?? {} })),
    ...(errors.length === 0 ? { networkError: new Error(`HTTP ${status}`) } : {}),
    response: { status },
  });
  return { ok: false, code: errorCode(combined), message: errors[0]?.message ?? null };
}

/** uploadUsers sends the file and reports the share of it sent so far (0 to 1). */
export function uploadUsers(appId: string, file: Blob, onProgress: (ratio: number) => void): Promise<UploadAnswer> {
  return new Promise((resolve) => {
    const body = new FormData();
    for (const [name, value] of multipartFields(appId, file)) {
      body.append(name, value);
    }
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/graphql');
    xhr.withCredentials = true;
    xhr.setRequestHeader('X-Herald-Console', 'upload');
    xhr.setRequestHeader('Accept', 'application/graphql-response+json, application/json');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) {
        onProgress(e.loaded / e.total);
      }
    };
    xhr.onload = () => resolve(readAnswer(xhr.status, xhr.responseText));
    xhr.onerror = () => resolve({ ok: false, code: 'UNAVAILABLE', message: null });
    xhr.send(body);
  });
}

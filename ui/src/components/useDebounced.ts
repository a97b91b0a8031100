// useDebounced: a value that follows another once it has stopped changing for a while.
import { useEffect, useMemo, useState } from 'react';
import { debounce } from '../lib/audiencePreview';

/** useDebounced returns value as it was ms after its last change. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  const later = useMemo(() => debounce((v: T) => setSettled(() => v), ms), [ms]);
  useEffect(() => {
    later.call(value);
  }, [later, value]);
  useEffect(() => () => later.cancel(), [later]);
  return settled;
}

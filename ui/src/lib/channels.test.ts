import { describe, expect, it } from 'vitest';
import { circuitState } from './channels';

describe('circuitState', () => {
  it('reads the states Herald reports, in any spelling', () => {
    expect(circuitState('CLOSED')).toBe('CLOSED');
    expect(circuitState('open')).toBe('OPEN');
    expect(circuitState('half-open')).toBe('HALF_OPEN');
    expect(circuitState('HALF_OPEN')).toBe('HALF_OPEN');
    expect(circuitState('weird')).toBe('UNKNOWN');
  });
});

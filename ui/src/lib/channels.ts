// Provider circuit states as the channels query reports them.

export const CIRCUIT_STATES = ['CLOSED', 'OPEN', 'HALF_OPEN', 'UNKNOWN'] as const;
export type CircuitState = (typeof CIRCUIT_STATES)[number];

/** circuitState reads the circuit string of a provider; anything unexpected is UNKNOWN. */
export function circuitState(s: string): CircuitState {
  const up = s.trim().toUpperCase().replace(/[\s-]/g, '_');
  return (CIRCUIT_STATES as readonly string[]).includes(up) ? (up as CircuitState) : 'UNKNOWN';
}

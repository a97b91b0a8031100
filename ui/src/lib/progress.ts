// A task's progress as a percentage.
import type { TaskStatus } from '../graphql/types';

/**
 * progressPercent is shardsDone / shardsTotal as a whole percentage, rounded down so that
 * 100 means every shard is done. A task without shards is 100% once it has finished and 0%
 * before.
 */
export function progressPercent(shardsDone: number, shardsTotal: number, status?: TaskStatus): number {
  if (!Number.isFinite(shardsTotal) || shardsTotal <= 0) {
    return status === 'COMPLETED' ? 100 : 0;
  }
  const ratio = Math.min(Math.max(shardsDone, 0), shardsTotal) / shardsTotal;
  return Math.floor(ratio * 100);
}

/** isLive tells whether a task's progress still moves, so its detail keeps polling. */
export function isLive(status: TaskStatus | undefined): boolean {
  return status === 'RUNNING';
}

/** The actions an operator can take on a task in the given status. */
export interface TaskActions {
  pause: boolean;
  resume: boolean;
  cancel: boolean;
}

export function taskActions(status: TaskStatus): TaskActions {
  return {
    pause: status === 'RUNNING' || status === 'SCHEDULED',
    resume: status === 'PAUSED',
    cancel: status === 'RUNNING' || status === 'SCHEDULED' || status === 'PAUSED' || status === 'DRAFT',
  };
}

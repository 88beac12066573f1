import type {CampaignListing} from '@lem/core';
import {table} from './render.js';

/** Campaigns as `lem resume` and `lem campaign status` list them. */
export function listingTable(list: CampaignListing[]): string {
  return table(
    ['ID', 'NAME', 'STATUS', 'PROGRESS', 'FAILED', 'INTERRUPTED', 'LAST ACTIVITY'],
    list.map((c) => [c.id, c.name ?? '?', c.error ? `unreadable: ${c.error}` : `${c.status}${c.locked ? ' (running now)' : ''}`, `${c.done}/${c.total}`, String(c.failed), String(c.interrupted), c.lastActivity ?? '—']),
  );
}

import {describe, expect, it} from 'vitest';
import {BUILTIN_PROMPTS, builtinLengthStats} from './builtin.js';

describe('built-in prompt set', () => {
  it('has at least 120 prompts with unique, well-formed ids', () => {
    expect(BUILTIN_PROMPTS.length).toBeGreaterThanOrEqual(120);
    const ids = BUILTIN_PROMPTS.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of BUILTIN_PROMPTS) {
      expect(p.id).toMatch(/^[a-z]+-\d{2}$/);
      expect(p.id.startsWith(`${p.category}-`)).toBe(true);
      expect(p.text.trim()).toBe(p.text);
      expect(p.text.length).toBeGreaterThan(0);
    }
    expect(new Set(BUILTIN_PROMPTS.map((p) => p.text)).size).toBe(BUILTIN_PROMPTS.length);
  });

  it('covers every kind of task, each several times', () => {
    const counts = new Map<string, number>();
    for (const p of BUILTIN_PROMPTS) counts.set(p.category, (counts.get(p.category) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(['classification', 'code', 'creative', 'extraction', 'instruction', 'question', 'reasoning', 'rewrite', 'summarise', 'translation']);
    for (const n of counts.values()) expect(n).toBeGreaterThanOrEqual(6);
  });

  it('spreads lengths from a few words to about 400 words', () => {
    const words = BUILTIN_PROMPTS.map((p) => p.text.split(/\s+/u).length);
    expect(Math.min(...words)).toBeLessThanOrEqual(6);
    expect(Math.max(...words)).toBeGreaterThanOrEqual(350);
    expect(Math.max(...words)).toBeLessThanOrEqual(450);
    expect(words.filter((w) => w <= 15).length).toBeGreaterThanOrEqual(20);
    expect(words.filter((w) => w >= 150).length).toBeGreaterThanOrEqual(15);
    const stats = builtinLengthStats();
    expect(stats.count).toBe(BUILTIN_PROMPTS.length);
    expect(stats.min).toBeLessThan(40);
    expect(stats.max).toBeGreaterThan(2000);
    expect(stats.p75 / stats.p25).toBeGreaterThan(3);
  });

  it('is frozen, so no caller can change the workload of another', () => {
    expect(Object.isFrozen(BUILTIN_PROMPTS)).toBe(true);
    expect(Object.isFrozen(BUILTIN_PROMPTS[0])).toBe(true);
  });
});

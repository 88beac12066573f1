import {mkdtempSync, mkdirSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {CodedError} from '../errors.js';
import {checkPromptFile, readPromptFile} from './file.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lem-datasets-file-'));
  mkdirSync(join(dir, 'data'));
});
afterAll(() => rmSync(dir, {recursive: true, force: true}));

function write(name: string, content: string | Buffer): string {
  writeFileSync(join(dir, name), content);
  return name;
}

async function failure(path: string, column?: string): Promise<CodedError> {
  try {
    await readPromptFile(path, {baseDir: dir, column});
  } catch (error) {
    return error as CodedError;
  }
  throw new Error(`${path} was read without error`);
}

describe('JSONL', () => {
  it('reads prompt, else text, or JSON strings; skips blank lines; ids are line numbers', async () => {
    write('a.jsonl', '{"prompt": "first", "text": "ignored"}\n\n{"prompt": "second", "extra": 1}\r\n"third as a string"\n');
    expect(await readPromptFile('a.jsonl', {baseDir: dir})).toEqual([
      {id: 'line-1', text: 'first'},
      {id: 'line-3', text: 'second'},
      {id: 'line-4', text: 'third as a string'},
    ]);
    write('b.ndjson', '{"text": "t1"}\n{"text": "t2 with\\nnewline"}');
    expect(await readPromptFile('b.ndjson', {baseDir: dir})).toEqual([
      {id: 'line-1', text: 't1'},
      {id: 'line-2', text: 't2 with\nnewline'},
    ]);
  });

  it('reads the named column, relative to baseDir', async () => {
    write('data/c.jsonl', '{"question": "q1", "prompt": "p1"}\n{"question": "q2"}\n');
    expect(await readPromptFile('data/c.jsonl', {baseDir: dir, column: 'question'})).toEqual([
      {id: 'line-1', text: 'q1'},
      {id: 'line-2', text: 'q2'},
    ]);
    expect(await readPromptFile(join(dir, 'data/c.jsonl'), {baseDir: '/elsewhere', column: 'question'})).toHaveLength(2);
  });

  it('names the line that is not JSON', async () => {
    write('bad.jsonl', '{"prompt": "ok"}\n{"prompt": "ok too"}\n{"prompt": oops}\n');
    const error = await failure('bad.jsonl');
    expect(error.code).toBe('E_DATASET_INVALID');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('bad.jsonl:3: line 3 is not JSON');
    expect(error.details?.[0]?.location).toEqual({file: join(dir, 'bad.jsonl'), line: 3});
    expect(error.try.length).toBeGreaterThan(0);
  });

  it('names the fields a line has when the column is missing', async () => {
    write('nocol.jsonl', '{"question": "q", "answer": "a"}\n');
    const error = await failure('nocol.jsonl');
    expect(error.code).toBe('E_DATASET_INVALID');
    expect(error.message).toContain('line 1 has no "prompt" or "text" field; its fields: question, answer');
    expect(error.try[0]).toBe('dataset.column: question');
    write('missing-later.jsonl', '{"prompt": "p"}\n{"text": "t"}\n');
    const later = await failure('missing-later.jsonl');
    expect(later.message).toContain('line 2 has no "prompt" field; its fields: text');
    expect(later.details?.[0]?.location?.line).toBe(2);
    const named = await failure('nocol.jsonl', 'input');
    expect(named.message).toContain('no "input" field');
  });

  it('refuses non-string, empty and non-object values with their line', async () => {
    write('types.jsonl', '{"prompt": "x"}\n{"prompt": 42}\n');
    expect((await failure('types.jsonl')).message).toContain('line 2: "prompt" is a number, not a string');
    write('empty-value.jsonl', '{"prompt": "  "}\n');
    expect((await failure('empty-value.jsonl')).message).toContain('line 1: "prompt" is empty');
    write('array.jsonl', '"fine"\n[1, 2]\n');
    expect((await failure('array.jsonl')).message).toContain('line 2 is an array');
  });
});

describe('CSV', () => {
  it('reads the prompt column with quoted commas, quotes and newlines; ids are the record first lines', async () => {
    write('p.csv', 'id,prompt,notes\r\n1,"Hello, world",x\r\n2,"He said ""hi""\r\nand left",y\r\n\r\n3,plain,z\r\n');
    expect(await readPromptFile('p.csv', {baseDir: dir})).toEqual([
      {id: 'line-2', text: 'Hello, world'},
      {id: 'line-3', text: 'He said "hi"\r\nand left'},
      {id: 'line-6', text: 'plain'},
    ]);
  });

  it('falls back to text, or reads the named column', async () => {
    write('t.csv', 'text,category\nsummarise this,a\n"multi\nline",b\nlast,c');
    expect(await readPromptFile('t.csv', {baseDir: dir})).toEqual([
      {id: 'line-2', text: 'summarise this'},
      {id: 'line-3', text: 'multi\nline'},
      {id: 'line-5', text: 'last'},
    ]);
    expect((await readPromptFile('t.csv', {baseDir: dir, column: 'category'})).map((p) => p.text)).toEqual(['a', 'b', 'c']);
  });

  it('names the columns that exist when the column is missing', async () => {
    write('cols.csv', 'question,answer\nq,a\n');
    const error = await failure('cols.csv');
    expect(error.code).toBe('E_DATASET_INVALID');
    expect(error.message).toContain('has no "prompt" or "text" column; its columns: question, answer');
    expect(error.details?.[0]?.location?.line).toBe(1);
    expect((await failure('cols.csv', 'body')).message).toContain('no "body" column; its columns: question, answer');
  });

  it('names the line of a CSV syntax error and of an empty prompt', async () => {
    write('quote.csv', 'prompt,n\nok,1\n"never closed,2\n');
    const error = await failure('quote.csv');
    expect(error.code).toBe('E_DATASET_INVALID');
    expect(error.message).toContain('is not valid CSV');
    write('fields.csv', 'prompt,n\nok,1\ntoo,many,fields\n');
    const fields = await failure('fields.csv');
    expect(fields.details?.[0]?.location?.line).toBe(3);
    write('blank.csv', 'prompt,n\nok,1\n"  ",2\n');
    const blank = await failure('blank.csv');
    expect(blank.message).toContain('line 3: column "prompt" is empty');
    expect(blank.details?.[0]?.location?.line).toBe(3);
  });
});

describe('TXT', () => {
  it('reads one prompt per non-blank line', async () => {
    write('p.txt', '\ufeffFirst prompt\r\n\r\n   \nSecond prompt, with commas\n  indented third\n');
    expect(await readPromptFile('p.txt', {baseDir: dir})).toEqual([
      {id: 'line-1', text: 'First prompt'},
      {id: 'line-4', text: 'Second prompt, with commas'},
      {id: 'line-5', text: '  indented third'},
    ]);
  });
});

describe('file errors', () => {
  it('E_DATASET_NOT_FOUND names the resolved path and the base folder', async () => {
    const error = await failure('nope/missing.jsonl');
    expect(error.code).toBe('E_DATASET_NOT_FOUND');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(join(dir, 'nope/missing.jsonl'));
    expect(error.try[0]).toContain(dir);
    await expect(checkPromptFile('nope/missing.jsonl', {baseDir: dir})).rejects.toMatchObject({code: 'E_DATASET_NOT_FOUND'});
  });

  it('E_DATASET_EMPTY for a file with no prompt, in every format', async () => {
    for (const [name, content] of [
      ['e.jsonl', '\n\n'],
      ['e.csv', 'prompt,n\n'],
      ['e2.csv', ''],
      ['e.txt', '  \n\n'],
    ] as const) {
      write(name, content);
      const error = await failure(name);
      expect(error.code, name).toBe('E_DATASET_EMPTY');
      expect(error.message).toContain(name);
    }
  });

  it('E_DATASET_INVALID for an unknown extension, a folder and non-UTF-8 bytes', async () => {
    write('p.json', '[]');
    const ext = await failure('p.json');
    expect(ext.code).toBe('E_DATASET_INVALID');
    expect(ext.message).toContain('".json" files');
    expect(ext.message).toContain('.jsonl (or .ndjson), .csv and .txt');
    await expect(checkPromptFile('p.json', {baseDir: dir})).rejects.toMatchObject({code: 'E_DATASET_INVALID'});
    expect((await failure('data')).message).toContain('is not a file');
    write('latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]));
    expect((await failure('latin1.txt')).message).toContain('not UTF-8');
  });
});

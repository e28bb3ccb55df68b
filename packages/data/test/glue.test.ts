import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type GlueTaskName,
  glueClassNames,
  glueExampleFromRecord,
  glueTask,
  IGNORE_INDEX,
  labelTokenIds,
  prepareSplit,
} from '../src/index.js';
import { loadGlueRecords, loadGlueSplit } from '../src/node.js';
import { dataPath, HAS_DATA, neoxTokenizer } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'statetune-glue-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const RTE_PROMPT =
  "Determine if the given pair of sentences displays entailment or not_entailment. Respond with '0' if entailment or '1' if not_entailment: ";

describe.skipIf(!HAS_DATA)('GLUE on the real TSV files', () => {
  it('reads the splits with the expected sizes', async () => {
    const sizes: [GlueTaskName, string, number, number][] = [
      ['cola', 'CoLA', 8551, 1043],
      ['sst2', 'SST-2', 67349, 872],
      // This copy of MRPC's train.tsv lacks one pair (Hugging Face has 3,668).
      ['mrpc', 'MRPC', 3667, 408],
      ['rte', 'RTE', 2490, 277],
    ];
    for (const [task, folder, train, dev] of sizes) {
      expect((await loadGlueSplit(dataPath('glue', folder), task, 'train')).length, task).toBe(
        train,
      );
      expect((await loadGlueSplit(dataPath('glue', folder), task, 'validation')).length, task).toBe(
        dev,
      );
    }
  });

  it('formats RTE character for character as the paper', async () => {
    const dev = await loadGlueSplit(dataPath('glue', 'RTE'), 'rte', 'validation');
    expect(dev[0]).toEqual({
      id: '0',
      text1:
        'Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age 44, according to the Christopher Reeve Foundation.',
      text2: 'Christopher Reeve had an accident.',
      label: 1,
    });
    const [ex] = glueTask('rte').format(dev[0], 'eval');
    // PAPER §5.2: no prefix; the prompt opens the input string.
    expect(ex.prefix).toBe('');
    expect(ex.input).toBe(
      "Determine if the given pair of sentences displays entailment or not_entailment. Respond with '0' if entailment or '1' if not_entailment: Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age 44, according to the Christopher Reeve Foundation.###Christopher Reeve had an accident.###",
    );
    expect(ex.label).toBe('1');
    expect(ex.classLabel).toBe(1);
    expect(ex.prefix + ex.input + ex.label).toBe(
      "Determine if the given pair of sentences displays entailment or not_entailment. Respond with '0' if entailment or '1' if not_entailment: Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age 44, according to the Christopher Reeve Foundation.###Christopher Reeve had an accident.###1",
    );
  });

  it('formats CoLA (headerless), SST-2 (trailing space kept) and MRPC (BOM, literal quotes)', async () => {
    const cola = (await loadGlueSplit(dataPath('glue', 'CoLA'), 'cola', 'validation'))[0];
    const [c] = glueTask('cola').format(cola, 'train');
    expect([c.prefix, c.input, c.label]).toEqual([
      '',
      "Review the sentence below and identify whether its grammar is Unacceptable or Acceptable. Respond with '0' if Unacceptable or '1' if Acceptable: The sailors rode the breeze clear of the rocks.###",
      '1',
    ]);
    const sst = (await loadGlueSplit(dataPath('glue', 'SST-2'), 'sst2', 'validation'))[1];
    const [s] = glueTask('sst2').format(sst, 'train');
    expect([s.prefix, s.input, s.label]).toEqual([
      '',
      "Read the provided excerpt and choose between negative and positive to describe its sentiment. Respond with '0' if negative or '1' if positive: unflinchingly bleak and desperate ###",
      '0',
    ]);
    const mrpc = (await loadGlueSplit(dataPath('glue', 'MRPC'), 'mrpc', 'validation'))[0];
    const [m] = glueTask('mrpc').format(mrpc, 'train');
    expect([m.prefix, m.input, m.label]).toEqual([
      '',
      "Can the given sentences be considered semantically identical? Respond with '0' if not_equivalent or '1' if equivalent: He said the foodservice pie business doesn 't fit the company 's long-term growth strategy .###\" The foodservice pie business does not fit our long-term growth strategy .###",
      '1',
    ]);
  });

  it('tokenizes the input (prompt and sentences together) and the label separately; the loss falls on the label digit only', async () => {
    const tok = await neoxTokenizer();
    const dev = await loadGlueSplit(dataPath('glue', 'RTE'), 'rte', 'validation');
    const split = prepareSplit(glueTask('rte'), dev.slice(0, 20), tok, { role: 'eval' });
    expect(split.lm).toHaveLength(20);
    expect(split.gen).toEqual([]);
    const ex = split.lm[0];
    // One tokenizer call for prompt and sentences, one for the label.
    const ids = [
      ...tok.encode(
        `${RTE_PROMPT}Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age 44, according to the Christopher Reeve Foundation.###Christopher Reeve had an accident.###`,
      ),
      18,
    ];
    expect(Array.from(ex.inputIds)).toEqual(ids.slice(0, -1));
    // The prompt's trailing space merges into the first word (": Dana" -> ":", "ĠDana"); a
    // separately tokenized prompt would end in "Ġ" and start the sentence with "D", "ana".
    const pieces = Array.from(ex.inputIds, (id) => tok.idToToken(id));
    const colon = pieces.indexOf(':');
    expect(pieces.slice(colon, colon + 4)).toEqual([':', 'ĠDana', 'ĠRe', 'eve']);
    expect(pieces.slice(0, colon)).not.toContain('###');
    const labels = Array.from(ex.labels);
    expect(labels.slice(0, -1).every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(labels.at(-1)).toBe(18);
    expect(labelTokenIds(glueTask('mnli'), tok)).toEqual([17, 18, 19]);
    expect(() => labelTokenIds({ ...glueTask('rte'), labelSet: ['10 x'] }, tok)).toThrow(
      /label "10 x" of rte is \d+ tokens, not 1/,
    );
    for (const e of split.lm) {
      expect(e.labels.filter((l) => l !== IGNORE_INDEX)).toHaveLength(1);
      expect([17, 18]).toContain(e.labels.at(-1));
    }
  });

  it('names the file and line of a malformed row, or skips it when asked', async () => {
    const dir = mkdtempSync(join(tmp, 'glue-'));
    writeFileSync(
      join(dir, 'dev.tsv'),
      'index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tonly two\n2\tc\td\tnot_entailment\n',
    );
    await expect(loadGlueSplit(dir, 'rte', 'validation')).rejects.toThrow(
      /dev\.tsv:3: expected 4 tab-separated fields/,
    );
    const kept = await loadGlueSplit(dir, 'rte', 'validation', { malformed: 'skip' });
    expect(kept.map((e) => e.label)).toEqual([0, 1]);
    writeFileSync(join(dir, 'dev.tsv'), 'index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n');
    await expect(loadGlueSplit(dir, 'rte', 'validation')).rejects.toThrow(
      /dev\.tsv:2: rte: label "maybe" is not one of 0\/entailment, 1\/not_entailment/,
    );
  });
});

describe('GLUE tasks', () => {
  it('exposes label sets, class names and the metrics of the paper', () => {
    expect(glueTask('mnli').labelSet).toEqual(['0', '1', '2']);
    expect(glueTask('cola').metrics).toEqual(['matthews_correlation']);
    expect(glueTask('mrpc').metrics).toEqual(['accuracy', 'f1']);
    expect(glueTask('qqp').metrics).toEqual(['accuracy', 'f1']);
    expect(glueTask('qnli').metrics).toEqual(['accuracy']);
    expect(glueTask('rte').evalMode).toBe('teacher-forced');
    expect(glueClassNames('mnli')).toEqual(['entailment', 'neutral', 'contradiction']);
  });

  it('formats Hugging Face records of MNLI and QQP', () => {
    const mnli = glueExampleFromRecord(
      'mnli',
      { premise: 'P.', hypothesis: 'H.', label: 2, idx: 7 },
      'x',
      'mnli.parquet',
    );
    const [m] = glueTask('mnli').format(mnli, 'train');
    expect(m.id).toBe('7');
    expect(m.prefix).toBe('');
    expect(m.input).toBe(
      "Assess the connection between the following sentences and classify it as entailment, neutral, or contradiction. Respond with '0' if entailment, '1' if neutral or '2' if contradiction: P.###H.###",
    );
    expect(m.label).toBe('2');
    const qqp = glueExampleFromRecord(
      'qqp',
      { question1: 'Q1?', question2: 'Q2?', label: 0 },
      '3',
      'qqp.jsonl',
    );
    expect(glueTask('qqp').format(qqp, 'train')[0].input).toBe(
      "Can these two statements be considered equal in meaning? Respond with '0' if not_equivalent or '1' if equivalent: Q1?###Q2?###",
    );
    expect(() =>
      glueExampleFromRecord(
        'qnli',
        { question: 'q', sentence: 's', label: -1 },
        '5',
        'test.parquet',
      ),
    ).toThrow(/test\.parquet \(example 5\): qnli: label -1 .*unlabelled test example/);
    expect(() =>
      glueExampleFromRecord('qnli', { question: 'q', label: 0 }, '5', 'x.jsonl', 9),
    ).toThrow(/x\.jsonl:9 \(example 5\): qnli: field "sentence" must be a string/);
    expect(() =>
      glueTask('rte').format({ id: 'r', text1: 'a', text2: 'b', label: 2 }, 'train'),
    ).toThrow(/rte \(example r\): label 2 is not a class index 0\.\.1/);
    expect(() => glueTask('rte').format({ id: 'r', text1: 'a', label: 0 }, 'train')).toThrow(
      /rte \(example r\): a pair task needs text2/,
    );
  });

  it('reads Hugging Face MNLI validation files in order, ids kept apart', async () => {
    const dir = mkdtempSync(join(tmp, 'glue-'));
    const matched = join(dir, 'validation_matched.jsonl');
    const mismatched = join(dir, 'validation_mismatched.jsonl');
    writeFileSync(matched, '{"premise": "P0", "hypothesis": "H0", "label": 1, "idx": 0}\n');
    writeFileSync(
      mismatched,
      '{"premise": "P1", "hypothesis": "H1", "label": 2, "idx": 0}\n{"premise": "P2", "hypothesis": "H2", "label": "x", "idx": 1}\n',
    );
    await expect(loadGlueRecords([matched, mismatched], 'mnli')).rejects.toThrow(
      /validation_mismatched\.jsonl:2 \(example 1\): mnli: label "x" is not one of/,
    );
    writeFileSync(mismatched, '{"premise": "P1", "hypothesis": "H1", "label": 2, "idx": 0}\n');
    expect(await loadGlueRecords([matched, mismatched], 'mnli')).toEqual([
      { id: '0:0', text1: 'P0', text2: 'H0', label: 1 },
      { id: '1:0', text1: 'P1', text2: 'H1', label: 2 },
    ]);
    expect((await loadGlueRecords(matched, 'mnli'))[0].id).toBe('0');
  });

  it('reads MNLI validation as matched then mismatched, and QQP/QNLI columns', async () => {
    const dir = mkdtempSync(join(tmp, 'glue-'));
    const head = 'index\tpromptID\tpairID\tgenre\tsentence1\tsentence2\tgold_label';
    writeFileSync(join(dir, 'dev_matched.tsv'), `${head}\n0\t1\t1e\tfic\tP0\tH0\tneutral\n`);
    writeFileSync(
      join(dir, 'dev_mismatched.tsv'),
      `${head}\n0\t2\t2e\tgov\tP1\tH1\tcontradiction\n1\t3\t3e\tgov\tP2\tH2\tentailment\n`,
    );
    const mnli = await loadGlueSplit(dir, 'mnli', 'validation');
    expect(mnli).toEqual([
      { id: 'matched-0', text1: 'P0', text2: 'H0', label: 1 },
      { id: 'mismatched-0', text1: 'P1', text2: 'H1', label: 2 },
      { id: 'mismatched-1', text1: 'P2', text2: 'H2', label: 0 },
    ]);
    writeFileSync(
      join(dir, 'train.tsv'),
      'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n5\t1\t2\tA?\tB?\t1\n',
    );
    expect(await loadGlueSplit(dir, 'qqp', 'train')).toEqual([
      { id: '0', text1: 'A?', text2: 'B?', label: 1 },
    ]);
    writeFileSync(
      join(dir, 'train.tsv'),
      'index\tquestion\tsentence\tlabel\n0\tWhy?\tBecause.\tnot_entailment\n',
    );
    const [q] = await loadGlueSplit(dir, 'qnli', 'train');
    expect(glueTask('qnli').format(q, 'train')[0].input).toBe(
      "Consider the context and question, and indicate if the answer can be logically deduced from the context. Respond with '0' if entailment or '1' if not_entailment: Why?###Because.###",
    );
    expect(glueTask('qnli').format(q, 'train')[0].label).toBe('1');
  });
});

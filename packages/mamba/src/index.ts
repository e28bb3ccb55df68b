/**
 * @statetune/mamba: Mamba language models from Hugging Face and state-spaces checkpoints: training forward, recurrent generation, beam search and sampling.
 *
 * @packageDocumentation
 */

export * from './checkpoint/index.js';

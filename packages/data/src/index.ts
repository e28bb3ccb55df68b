/**
 * @statetune/data: The GPT-NeoX tokenizer and the datasets of the State-offset Tuning paper (GLUE, DART, SAMSum, Spider), formatted and batched as the paper's code does.
 *
 * @packageDocumentation
 */

export {};

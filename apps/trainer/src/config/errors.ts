/**
 * A problem with what the user gave the trainer: a config file, a flag, a path. The message
 * says where (file and key, or flag) and what was expected; the CLI prints it without a
 * stack trace and exits with status 2.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

// packages/logger/src/index.ts@462bf0292ef6b15f4990df3dfb67b144ea4fd859: `new Logger(label)` with
// pino-style level methods taking an object or a message. This stand-in keeps what it is given in
// `Logger.entries`, so that a test can read what the server would have logged.
type Level = 'debug' | 'info' | 'warn' | 'error';

export class Logger {
	static readonly entries: Array<{ label: string; level: Level; args: unknown[] }> = [];

	constructor(private readonly loggerLabel: string) {}

	debug(...args: unknown[]): void {
		this.record('debug', args);
	}

	info(...args: unknown[]): void {
		this.record('info', args);
	}

	warn(...args: unknown[]): void {
		this.record('warn', args);
	}

	error(...args: unknown[]): void {
		this.record('error', args);
	}

	private record(level: Level, args: unknown[]): void {
		Logger.entries.push({ label: this.loggerLabel, level, args });
	}
}

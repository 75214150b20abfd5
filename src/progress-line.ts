/** A callback that shows one line of progress to the person waiting (stderr in the CLI). */
export type ProgressLine = (line: string) => void;

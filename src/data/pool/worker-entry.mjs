// The pool renderer's worker thread: registers tsx's TypeScript loader in this thread, then runs
// ./worker.ts (which answers the messages of ./stream.ts).
import { register } from 'tsx/esm/api';

register();
await import(new URL('./worker.ts', import.meta.url).href);

import { builtinModules } from 'node:module';
import { relative } from 'node:path';
import type { Plugin } from 'esbuild';

/**
 * esbuild plugin for the browser tests: records every Node built-in a bundle reaches (with its
 * importer, relative to `root`) and leaves it external, so a test can require the list be empty.
 */
export function nodeBuiltinGuard(found: string[], root: string): Plugin {
  const builtins = new Set(builtinModules);
  return {
    name: 'node-builtin-guard',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (!args.path.startsWith('node:') && !builtins.has(args.path.split('/')[0])) return undefined;
        found.push(`${relative(root, args.importer)} imports ${args.path}`);
        return { path: args.path, external: true };
      });
    },
  };
}

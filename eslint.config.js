import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'web/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Use named exports (see ARCHITECTURE.md).' },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // Time only from the Clock (kernel/clock.ts): wall time flows through one injectable place.
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts', 'src/kernel/clock.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Use named exports (see ARCHITECTURE.md).' },
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'Ask a Clock (kernel/clock.ts: an injected clock, or systemClock) for the time.' },
        { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'Ask a Clock (kernel/clock.ts: an injected clock, or systemClock) for the time.' },
      ],
    },
  },
  {
    // Only the CLI edge and the benchmark harness talk to a terminal; the engine never prints.
    files: ['src/cli/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts', 'src/**/*.test.ts'],
    rules: { 'no-console': 'off' },
  },
);

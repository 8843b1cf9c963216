// What a TypeScript user of the library can write without a cast (issue 28): elect's onError gets
// errors whose `code` is typed, as the library guide says every error carries one. Checked by
// `npm run typecheck` (test/tsconfig.json); the runtime part only shows the shape.
import t from 'tap';
import { DatabaseUnavailableError, type ElectOptions, type ReportedError } from '../../src/index.js';

const codes: (string | undefined)[] = [];
const onError: NonNullable<ElectOptions['onError']> = (error) => {
  codes.push(error.code); // a compile error while onError took a plain Error
  if (error.code === 'EAUTH') codes.push(error.message);
};

t.test("elect's onError: code readable without a cast, for pglock's errors and others", async (t) => {
  onError(new DatabaseUnavailableError('authentication failed', { code: 'EAUTH' }));
  onError(new Error('onLeading threw') as ReportedError);
  t.same(codes, ['EAUTH', 'authentication failed', undefined]);
});

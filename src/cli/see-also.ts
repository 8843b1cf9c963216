// Where `--help` and the man page send people for more: the manual, and the guides. One constant
// each, so the day the guides move to docs/ (issue 23) is a one-line change.
export const GUIDES = 'README.md';
export const SEE_ALSO = `More: man pglock (the manual), and the guides in ${GUIDES}.`;

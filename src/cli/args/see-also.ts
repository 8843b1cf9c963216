// Where `--help` and the man page send people for more: the manual, and the guides (in the
// package and the repository; README.md lists them).
export const GUIDES = 'docs/';
export const SEE_ALSO = `More: man pglock (the manual), and the guides in ${GUIDES}.`;

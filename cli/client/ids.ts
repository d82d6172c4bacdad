/** Run and pipeline ids as the user types them. */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `arg` is an id (a UUID, in either case) rather than a name. */
export const isId = (arg: string): boolean => UUID.test(arg);

/** An id in the lower case ids are stored in (the server answers 404 to an upper-case one); anything else as it is. */
export const normalId = (arg: string): string => (isId(arg) ? arg.toLowerCase() : arg);

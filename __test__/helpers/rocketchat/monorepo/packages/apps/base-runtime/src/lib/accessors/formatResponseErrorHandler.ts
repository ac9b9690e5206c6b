// packages/apps/base-runtime/src/lib/accessors/formatResponseErrorHandler.ts@9771fdf1ea50f24e2befb241a3bd588c8336b6d8:
// a JSON-RPC error response (or anything with `error.message`) becomes an Error with that message,
// an Error stays as it is, anything else becomes 'An unknown error occurred' with it as the cause.
import { ErrorObject } from 'jsonrpc-lite';

export const formatErrorResponse = (error: any): Error => {
	if (error instanceof ErrorObject || typeof error?.error?.message === 'string') {
		return new Error(error.error.message);
	}
	return error instanceof Error ? error : new Error('An unknown error occurred', { cause: error });
};

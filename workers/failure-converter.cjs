// Loaded by path (DataConverter.failureConverterPath) into both the worker and the
// workflow bundle, so it is plain CommonJS. encodeCommonAttributes moves error messages
// and stack traces into an encoded payload instead of plain text in history.
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });

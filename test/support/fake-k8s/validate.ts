// Validation of created/updated objects: the upstream OpenAPI schema (kubernetes-models, generated from
// the real swagger) plus the semantic rules the API server's validation code enforces and the schema
// cannot express. Messages follow apimachinery's field.Error format so client-side error surfacing is
// tested against real-looking text.
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { badRequest, invalid, type FieldError } from './errors.js';
import { parseQuantity } from './quantity.js';
import type { KObject } from './store.js';

/** The part of an ajv error we read (kubernetes-models validates with ajv). */
interface ErrorObject {
  instancePath: string;
  keyword: string;
  params: unknown;
  message?: string;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

const q = (v: unknown): string => JSON.stringify(v);

const required = (field: string): FieldError => ({
  field,
  type: 'FieldValueRequired',
  detail: 'Required value',
});
const invalidValue = (field: string, value: unknown, detail: string): FieldError => ({
  field,
  type: 'FieldValueInvalid',
  detail: `Invalid value: ${q(value)}: ${detail}`,
});
const duplicate = (field: string, value: unknown): FieldError => ({
  field,
  type: 'FieldValueDuplicate',
  detail: `Duplicate value: ${q(value)}`,
});
const notSupported = (field: string, value: unknown, allowed: string[]): FieldError => ({
  field,
  type: 'FieldValueNotSupported',
  detail: `Unsupported value: ${q(value)}: supported values: ${allowed.map(q).join(', ')}`,
});
const notFoundField = (field: string, value: unknown): FieldError => ({
  field,
  type: 'FieldValueNotFound',
  detail: `Not found: ${q(value)}`,
});
export const forbidden = (field: string, detail: string): FieldError => ({
  field,
  type: 'FieldValueForbidden',
  detail: `Forbidden: ${detail}`,
});

/** metadata.name / generateName, labels and annotations (ValidateObjectMeta). */
export function validateMeta(obj: KObject, subdomain: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const { name, labels, annotations } = obj.metadata;
  const re = subdomain ? DNS1123_SUBDOMAIN : DNS1123_LABEL;
  if (!name)
    errs.push({
      field: 'metadata.name',
      type: 'FieldValueRequired',
      detail: 'Required value: name or generateName is required',
    });
  else if (name.length > (subdomain ? 253 : 63) || !re.test(name)) {
    errs.push(invalidValue('metadata.name', name, subdomain ? SUBDOMAIN_MSG : LABEL_MSG));
  }
  for (const [k, v] of Object.entries(labels ?? {})) {
    errs.push(...qualifiedName(`metadata.labels`, k));
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) {
      errs.push(
        invalidValue(
          'metadata.labels',
          v,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')" +
            (typeof v === 'string' && v.length > 63 ? ', must be no more than 63 characters' : ''),
        ),
      );
    }
  }
  for (const k of Object.keys(annotations ?? {})) errs.push(...qualifiedName('metadata.annotations', k));
  return errs;
}

/** A label/annotation key: optional DNS subdomain prefix (<=253) + "/" + name (<=63). */
function qualifiedName(field: string, key: string): FieldError[] {
  const parts = key.split('/');
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  const prefix = parts.length === 2 ? parts[0]! : undefined;
  const ok =
    parts.length <= 2 &&
    name.length > 0 &&
    name.length <= 63 &&
    QUALIFIED_NAME.test(name) &&
    (prefix === undefined || (prefix.length <= 253 && DNS1123_SUBDOMAIN.test(prefix)));
  if (ok) return [];
  return [
    invalidValue(
      field,
      key,
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ),
  ];
}

/** Converts the OpenAPI validator's errors (instancePath "/spec/containers/0/name") to field errors. */
function schemaErrors(errors: ErrorObject[]): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const path = e.instancePath
      .split('/')
      .filter(Boolean)
      .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
    if (e.keyword === 'required') {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      out.push(required(path ? `${path}.${missing}` : missing));
    } else if (e.keyword === 'enum') {
      out.push(notSupported(path, undefined, (e.params as { allowedValues: string[] }).allowedValues));
    } else if (e.keyword === 'oneOf' || e.keyword === 'type' || e.keyword === 'format') {
      // For int-or-string / quantity fields ajv reports type+format+oneOf; one message per field suffices.
      if (!out.some((o) => o.field === path)) out.push(invalidValue(path, undefined, e.message ?? 'invalid'));
    } else out.push(invalidValue(path, undefined, e.message ?? 'invalid'));
  }
  return out;
}

function schemaCheck(validate: () => void): FieldError[] {
  try {
    validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: ErrorObject[] }).errors;
    if (!errors) throw err;
    return schemaErrors(errors);
  }
}

interface EnvVar {
  name?: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name?: string; key?: string };
    configMapKeyRef?: { name?: string; key?: string };
    fieldRef?: { fieldPath?: string };
    resourceFieldRef?: unknown;
  };
}
interface VolumeMount {
  name?: string;
  mountPath?: string;
  subPath?: string;
  readOnly?: boolean;
}
interface ContainerSpec {
  name?: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  volumeMounts?: VolumeMount[];
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  imagePullPolicy?: string;
  workingDir?: string;
}
interface PodSpecShape {
  containers?: ContainerSpec[];
  initContainers?: ContainerSpec[];
  volumes?: Array<{ name?: string } & Record<string, unknown>>;
  restartPolicy?: string;
  activeDeadlineSeconds?: number;
  terminationGracePeriodSeconds?: number;
  nodeSelector?: Record<string, string>;
  tolerations?: Array<{
    key?: string;
    operator?: string;
    value?: string;
    effect?: string;
    tolerationSeconds?: number;
  }>;
  nodeName?: string;
}

const VOLUME_SOURCES = [
  'emptyDir',
  'secret',
  'configMap',
  'hostPath',
  'persistentVolumeClaim',
  'projected',
  'downwardAPI',
  'csi',
  'ephemeral',
  'nfs',
  'image',
];

export function validatePod(pod: KObject): void {
  const name = pod.metadata.name || pod.metadata.generateName || '';
  const errs = [...validateMeta(pod, true), ...schemaCheck(() => new Pod(pod as never).validate())];
  const spec = (pod.spec ?? {}) as PodSpecShape;
  const volumes = spec.volumes ?? [];
  const volumeNames = new Set<string>();
  volumes.forEach((v, i) => {
    const f = `spec.volumes[${i}]`;
    if (!v.name) errs.push(required(`${f}.name`));
    else if (v.name.length > 63 || !DNS1123_LABEL.test(v.name))
      errs.push(invalidValue(`${f}.name`, v.name, LABEL_MSG));
    else if (volumeNames.has(v.name)) errs.push(duplicate(`${f}.name`, v.name));
    else volumeNames.add(v.name);
    const sources = VOLUME_SOURCES.filter((s) => s in v);
    if (sources.length === 0) {
      errs.push({
        field: f,
        type: 'FieldValueRequired',
        detail: 'Required value: must specify a volume type',
      });
    }
    if (sources.length > 1)
      errs.push(forbidden(`${f}.${sources[1]!}`, 'may not specify more than 1 volume type'));
  });
  if (!spec.containers?.length) errs.push(required('spec.containers'));
  const containerNames = new Set<string>();
  const check = (c: ContainerSpec, f: string): void => {
    if (!c.name) errs.push(required(`${f}.name`));
    else if (c.name.length > 63 || !DNS1123_LABEL.test(c.name))
      errs.push(invalidValue(`${f}.name`, c.name, LABEL_MSG));
    else if (containerNames.has(c.name)) errs.push(duplicate(`${f}.name`, c.name));
    else containerNames.add(c.name);
    if (!c.image?.trim()) errs.push(required(`${f}.image`));
    if (c.imagePullPolicy !== undefined && !['Always', 'IfNotPresent', 'Never'].includes(c.imagePullPolicy)) {
      errs.push(notSupported(`${f}.imagePullPolicy`, c.imagePullPolicy, ['Always', 'IfNotPresent', 'Never']));
    }
    const envNames = new Set<string>();
    (c.env ?? []).forEach((e, i) => {
      const ef = `${f}.env[${i}]`;
      if (!e.name) errs.push(required(`${ef}.name`));
      else if (!ENV_NAME.test(e.name)) {
        errs.push(
          invalidValue(
            `${ef}.name`,
            e.name,
            "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')",
          ),
        );
      }
      envNames.add(e.name ?? '');
      const vf = e.valueFrom;
      if (vf) {
        const n = ['secretKeyRef', 'configMapKeyRef', 'fieldRef', 'resourceFieldRef'].filter(
          (k) => k in vf,
        ).length;
        if (e.value)
          errs.push(invalidValue(`${ef}.valueFrom`, '', 'may not be specified when `value` is not empty'));
        if (n !== 1)
          errs.push(
            invalidValue(`${ef}.valueFrom`, '', 'may not have more than one field specified at a time'),
          );
        const ref = vf.secretKeyRef;
        if (ref) {
          if (!ref.name) errs.push(required(`${ef}.valueFrom.secretKeyRef.name`));
          if (!ref.key) errs.push(required(`${ef}.valueFrom.secretKeyRef.key`));
          else if (!SECRET_KEY.test(ref.key)) {
            errs.push(
              invalidValue(
                `${ef}.valueFrom.secretKeyRef.key`,
                ref.key,
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
              ),
            );
          }
        }
      }
    });
    const mountPaths = new Set<string>();
    (c.volumeMounts ?? []).forEach((m, i) => {
      const mf = `${f}.volumeMounts[${i}]`;
      if (!m.name) errs.push(required(`${mf}.name`));
      else if (!volumeNames.has(m.name)) errs.push(notFoundField(`${mf}.name`, m.name));
      if (!m.mountPath) errs.push(required(`${mf}.mountPath`));
      else if (mountPaths.has(m.mountPath))
        errs.push(invalidValue(`${mf}.mountPath`, m.mountPath, 'must be unique'));
      else mountPaths.add(m.mountPath);
      if (m.subPath && (m.subPath.startsWith('/') || m.subPath.split('/').includes('..'))) {
        errs.push(invalidValue(`${mf}.subPath`, m.subPath, "must be a relative path without '..'"));
      }
    });
    for (const kind of ['requests', 'limits'] as const) {
      for (const [res, value] of Object.entries(c.resources?.[kind] ?? {})) {
        const rf = `${f}.resources.${kind}[${res}]`;
        const n = parseQuantity(value);
        if (n === undefined)
          errs.push(
            invalidValue(
              rf,
              value,
              "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            ),
          );
        else if (n < 0) errs.push(invalidValue(rf, value, 'must be greater than or equal to 0'));
      }
    }
    for (const [res, req] of Object.entries(c.resources?.requests ?? {})) {
      const lim = c.resources?.limits?.[res];
      if (lim !== undefined && (parseQuantity(req) ?? 0) > (parseQuantity(lim) ?? Infinity)) {
        errs.push(
          invalidValue(
            `${f}.resources.requests`,
            String(req),
            `must be less than or equal to ${res} limit of ${String(lim)}`,
          ),
        );
      }
    }
  };
  (spec.initContainers ?? []).forEach((c, i) => check(c, `spec.initContainers[${i}]`));
  (spec.containers ?? []).forEach((c, i) => check(c, `spec.containers[${i}]`));
  if (spec.restartPolicy !== undefined && !['Always', 'OnFailure', 'Never'].includes(spec.restartPolicy)) {
    errs.push(notSupported('spec.restartPolicy', spec.restartPolicy, ['Always', 'OnFailure', 'Never']));
  }
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds <= 0) {
    errs.push(
      invalidValue(
        'spec.activeDeadlineSeconds',
        spec.activeDeadlineSeconds,
        'must be between 1 and 2147483647, inclusive',
      ),
    );
  }
  if (spec.terminationGracePeriodSeconds !== undefined && spec.terminationGracePeriodSeconds < 0) {
    errs.push(
      invalidValue(
        'spec.terminationGracePeriodSeconds',
        spec.terminationGracePeriodSeconds,
        'must be greater than or equal to 0',
      ),
    );
  }
  (spec.tolerations ?? []).forEach((t, i) => {
    const tf = `spec.tolerations[${i}]`;
    if (t.key) errs.push(...qualifiedName(`${tf}.key`, t.key));
    if (t.operator !== undefined && !['Equal', 'Exists'].includes(t.operator)) {
      errs.push(notSupported(`${tf}.operator`, t.operator, ['Equal', 'Exists']));
    }
    if (!t.key && t.operator !== 'Exists') {
      errs.push(
        invalidValue(
          `${tf}.operator`,
          t.operator ?? '',
          'operator must be Exists when `key` is empty, which means "match all values and all keys"',
        ),
      );
    }
    if (t.operator === 'Exists' && t.value) {
      errs.push(invalidValue(`${tf}.operator`, t.value, "value must be empty when `operator` is 'Exists'"));
    }
    if (
      t.effect !== undefined &&
      t.effect !== '' &&
      !['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(t.effect)
    ) {
      errs.push(notSupported(`${tf}.effect`, t.effect, ['NoSchedule', 'PreferNoSchedule', 'NoExecute']));
    }
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
      errs.push(
        invalidValue(
          `${tf}.effect`,
          t.effect ?? '',
          "effect must be 'NoExecute' when `tolerationSeconds` is set",
        ),
      );
    }
  });
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) {
    errs.push(...qualifiedName('spec.nodeSelector', k));
    if (!LABEL_VALUE.test(v) || v.length > 63)
      errs.push(
        invalidValue(
          'spec.nodeSelector',
          v,
          'a valid label must be an empty string or consist of alphanumeric characters',
        ),
      );
  }
  if (errs.length) throw invalid('Pod', name, dedupe(errs));
}

function dedupe(errs: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errs.filter((e) => {
    const k = `${e.field}|${e.detail}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The only spec changes the API server allows on a pod update (ValidatePodUpdate). */
export function validatePodUpdate(oldPod: KObject, newPod: KObject): void {
  const errs = validateMeta(newPod, true);
  const o = structuredClone(oldPod.spec ?? {}) as PodSpecShape;
  const n = structuredClone(newPod.spec ?? {}) as PodSpecShape;
  // Mask the mutable fields, then any remaining difference is forbidden.
  n.containers?.forEach((c, i) => {
    const oc = o.containers?.[i];
    if (oc && c.image) oc.image = c.image;
  });
  n.initContainers?.forEach((c, i) => {
    const oc = o.initContainers?.[i];
    if (oc && c.image) oc.image = c.image;
  });
  if (n.activeDeadlineSeconds !== undefined) {
    if (o.activeDeadlineSeconds !== undefined && n.activeDeadlineSeconds > o.activeDeadlineSeconds) {
      errs.push(
        invalidValue(
          'spec.activeDeadlineSeconds',
          n.activeDeadlineSeconds,
          'must be less than or equal to previous value',
        ),
      );
    }
    o.activeDeadlineSeconds = n.activeDeadlineSeconds;
  }
  const oldTol = JSON.stringify(o.tolerations ?? []);
  if (
    (n.tolerations ?? []).length >= (o.tolerations ?? []).length &&
    JSON.stringify((n.tolerations ?? []).slice(0, (o.tolerations ?? []).length)) === oldTol
  ) {
    o.tolerations = n.tolerations;
  }
  if (JSON.stringify(canonical(o)) !== JSON.stringify(canonical(n))) {
    errs.push(
      forbidden(
        'spec',
        'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
      ),
    );
  }
  if (errs.length) throw invalid('Pod', newPod.metadata.name, errs);
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, canonical(x)]),
    );
  }
  return v;
}

export function validateSecret(secret: KObject): void {
  const errs = [...validateMeta(secret, true), ...schemaCheck(() => new Secret(secret as never).validate())];
  const data = (secret.data ?? {}) as Record<string, unknown>;
  const stringData = (secret.stringData ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(data)) {
    // The real server fails to decode bad base64 before validation even runs (400, not 422).
    if (typeof v === 'string' && !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) {
      throw badRequest(
        `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0`,
      );
    }
    if (!SECRET_KEY.test(k))
      errs.push(
        invalidValue(
          `data[${k}]`,
          k,
          "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
        ),
      );
  }
  for (const k of Object.keys(stringData)) {
    if (!SECRET_KEY.test(k))
      errs.push(
        invalidValue(
          `stringData[${k}]`,
          k,
          "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
        ),
      );
  }
  if (errs.length) throw invalid('Secret', secret.metadata.name, dedupe(errs));
}

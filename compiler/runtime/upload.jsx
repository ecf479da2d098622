// An upload zone (`refract::upload(id)`): a drop zone (react-dropzone) with a "Choose files"
// button, the files chosen with their sizes, and the zone's last problem. The files and the
// transfers are react.jsx's `uploads` (upload.js); this draws them. Written into an app only when
// one of its pages has a zone (a stub otherwise), with react-dropzone in its package.json.
import React, { useCallback } from "react";
import { useDropzone } from "react-dropzone";
import { Button, Flex, Text } from "@radix-ui/themes";
import { uploads, useUploadVar } from "./react.jsx";
import { formatSize } from "./upload.js";

/**
 * An upload zone.
 * @param {{id: string, multiple?: boolean, accept?: string[], maxSize?: number, maxFiles?: number}} props
 */
export function RefractUpload({ id, multiple = true, accept = null, maxSize = null, maxFiles = null }) {
  const names = useUploadVar(`selected$${id}`);
  const error = useUploadVar(`error$${id}`);
  const progress = useUploadVar(`progress$${id}`);
  const onDrop = useCallback(
    // Every file dropped or chosen, checked by our rules (react-dropzone's own are not used,
    // so the messages and the checks are the runtime's, tested in upload.test.js).
    (files) => uploads.select(id, files, { multiple, accept, maxSize, maxFiles }),
    [id, multiple, accept, maxSize, maxFiles],
  );
  const { getRootProps, getInputProps, isDragActive, open } = useDropzone({ onDrop, multiple: true, noClick: true, noKeyboard: true });
  const chosen = uploads.zones.get(id)?.files ?? [];
  return (
    <div
      {...getRootProps()}
      data-testid={`refract-upload-${id}`}
      style={{
        border: "2px dashed var(--gray-a7, #bbb)",
        borderRadius: "var(--radius-3, 8px)",
        padding: "1rem",
        background: isDragActive ? "var(--accent-a3, #eef)" : undefined,
      }}
    >
      <input {...getInputProps({ multiple, accept: accept ? accept.join(",") : undefined })} data-testid={`refract-upload-input-${id}`} />
      <Flex direction="column" gap="2" align="start">
        <Flex gap="3" align="center">
          <Button type="button" variant="soft" onClick={open}>
            Choose files
          </Button>
          <Text size="2" color="gray">
            {isDragActive ? "Drop the files here" : multiple ? "or drop files here" : "or drop a file here"}
          </Text>
        </Flex>
        {names.length > 0 && (
          <ul data-testid={`refract-upload-files-${id}`} style={{ margin: 0, paddingLeft: "1.25rem" }}>
            {names.map((name, i) => (
              <li key={`${i}:${name}`}>
                <Text size="2">
                  {name} ({formatSize(chosen[i]?.size ?? 0)})
                </Text>
              </li>
            ))}
          </ul>
        )}
        {progress > 0 && progress < 1 && (
          <progress data-testid={`refract-upload-progress-${id}`} value={progress} max={1} style={{ width: "100%" }} />
        )}
        {error && (
          <Text role="alert" size="2" color="red" data-testid={`refract-upload-error-${id}`}>
            {error}
          </Text>
        )}
      </Flex>
    </div>
  );
}

// Decodes one frame at a time with jsQR (Apache-2.0, vendor/jsQR.LICENSE).
importScripts("/kiosk/vendor/jsQR.js");

self.onmessage = (event) => {
  const image = event.data;
  const found = self.jsQR(image.data, image.width, image.height, {
    inversionAttempts: "dontInvert",
  });
  self.postMessage(found ? found.data : null);
};

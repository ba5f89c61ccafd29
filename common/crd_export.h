/* SPDX-License-Identifier: MIT */
/*
 * crd_export.h - CRD_EXPORT marks a function of a shared library's API
 * (internal, not installed). The libraries are built with
 * -fvisibility=hidden, so only what carries it is visible; each library's
 * version script (lib/libconnredir.map, winsock/libconnredir-winsock.map)
 * then names what it exports.
 */
#ifndef CRD_EXPORT_H
#define CRD_EXPORT_H

#define CRD_EXPORT __attribute__((visibility("default")))

#endif

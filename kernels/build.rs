//! Parses and validates every `shaders/*.wgsl` with naga and reflects each entry point's
//! bindings, uniform layout and workgroup size into `$OUT_DIR/shaders.rs`, so the runtime builds
//! layouts and pipelines from one table and no binding list is written twice.
//!
//! `#import NAME` on a line of its own pastes `shaders/shared/NAME.wgsl` (once per shader, nested
//! imports too); errors are reported against the file and line the text came from. A shared
//! module may have a subgroup twin, `NAME_sg.wgsl` (the same functions written with subgroup
//! operations): a shader that imports such a module is built twice, as `X` and as `X_sg` with
//! the twins, and the runtime uses `X_sg` on devices with subgroups.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use naga::valid::{ValidationFlags, Validator};

/// Features the runtime may request that change what shaders can use. Validation uses exactly
/// these capabilities, so a shader that needs more fails here, not on a user's adapter.
fn shader_features() -> wgpu_types::Features {
    wgpu_types::Features::empty()
}

struct Source {
    text: String,
    /// For every line of `text`: the file and 1-based line it came from.
    origin: Vec<(PathBuf, usize)>,
}

/// The suffix of a shared module's subgroup twin (`shared/NAME_sg.wgsl`) and of the shader
/// variant built with the twins (`X_sg`).
const SUBGROUP_SUFFIX: &str = "_sg";

/// `path` with its `#import`s expanded (each module once, nested imports too). With
/// `subgroups`, a module that has a subgroup twin is replaced by it. Also returns whether any
/// import had a twin (so the shader has a subgroup variant).
fn preprocess(path: &Path, shared: &Path, subgroups: bool) -> Result<(Source, bool), String> {
    let mut out = Source {
        text: String::new(),
        origin: Vec::new(),
    };
    let mut seen = Vec::new();
    let twinned = expand(path, shared, subgroups, &mut seen, &mut out)?;
    Ok((out, twinned))
}

fn expand(
    path: &Path,
    shared: &Path,
    subgroups: bool,
    seen: &mut Vec<PathBuf>,
    out: &mut Source,
) -> Result<bool, String> {
    let raw = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("cargo:rerun-if-changed={}", path.display());
    let mut twinned = false;
    for (i, line) in raw.lines().enumerate() {
        if let Some(name) = line.trim().strip_prefix("#import ") {
            let name = name.trim();
            let plain = shared.join(format!("{name}.wgsl"));
            let twin = shared.join(format!("{name}{SUBGROUP_SUFFIX}.wgsl"));
            let inc = if twin.exists() {
                twinned = true;
                if subgroups { twin } else { plain }
            } else {
                plain
            };
            if !inc.exists() {
                return Err(format!(
                    "{}:{}: cannot import {}: no such file",
                    path.display(),
                    i + 1,
                    inc.display()
                ));
            }
            if seen.contains(&inc) {
                continue;
            }
            seen.push(inc.clone());
            twinned |= expand(&inc, shared, subgroups, seen, out)?;
        } else {
            out.text.push_str(line);
            out.text.push('\n');
            out.origin.push((path.to_path_buf(), i + 1));
        }
    }
    Ok(twinned)
}

/// One naga diagnostic, located in the file and line the text came from (before imports were
/// expanded): `file:line:column (shader): error: message` and naga's own rendering.
fn diagnostic(
    name: &str,
    src: &Source,
    loc: Option<naga::SourceLocation>,
    message: impl std::fmt::Display,
    emitted: String,
) -> String {
    let at = match loc {
        Some(l) => {
            let (file, line) = &src.origin[(l.line_number as usize)
                .saturating_sub(1)
                .min(src.origin.len() - 1)];
            format!("{}:{}:{}", file.display(), line, l.line_position)
        }
        None => "(no location)".into(),
    };
    format!("{at} ({name}): error: {message}\n{emitted}")
}

fn scalar_name(
    module: &naga::Module,
    ty: naga::Handle<naga::Type>,
) -> Result<&'static str, String> {
    match module.types[ty].inner {
        naga::TypeInner::Scalar(naga::Scalar {
            kind: naga::ScalarKind::Uint,
            width: 4,
        }) => Ok("U32"),
        naga::TypeInner::Scalar(naga::Scalar {
            kind: naga::ScalarKind::Sint,
            width: 4,
        }) => Ok("I32"),
        naga::TypeInner::Scalar(naga::Scalar {
            kind: naga::ScalarKind::Float,
            width: 4,
        }) => Ok("F32"),
        ref other => Err(format!(
            "uniform members must be 32-bit scalars, found {other:?}"
        )),
    }
}

fn reflect(
    name: &str,
    src: &Source,
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
    needs: &[String],
    out_dir: &Path,
) -> Result<(String, Vec<Entry>), String> {
    let wgsl_path = out_dir.join(format!("{name}.wgsl"));
    std::fs::write(&wgsl_path, &src.text).map_err(|e| e.to_string())?;
    let mut s = String::new();
    let mut entries = Vec::new();
    writeln!(
        s,
        "    Shader {{ name: {name:?}, source: include_str!({:?}), needs: &{needs:?}, entry_points: &[",
        wgsl_path.display().to_string()
    )
    .unwrap();
    for (i, ep) in module.entry_points.iter().enumerate() {
        if ep.stage != naga::ShaderStage::Compute {
            return Err(format!(
                "{name}: entry point {} is not a compute shader",
                ep.name
            ));
        }
        let uses = info.get_entry_point(i);
        let [x, y, z] = ep.workgroup_size;
        writeln!(
            s,
            "        EntryPoint {{ name: {:?}, workgroup_size: [{x}, {y}, {z}], bindings: &[",
            ep.name
        )
        .unwrap();
        let mut bindings = Vec::new();
        for (h, var) in module.global_variables.iter() {
            let Some(rb) = &var.binding else { continue };
            if uses[h].is_empty() {
                continue;
            }
            let var_name = var.name.clone().unwrap_or_default();
            bindings.push(var_name.clone());
            let (kind, members, size) = match var.space {
                naga::AddressSpace::Uniform => {
                    let naga::TypeInner::Struct { members, span } = &module.types[var.ty].inner
                    else {
                        return Err(format!("{name}: uniform {var_name} must be a struct"));
                    };
                    let mut ms = String::new();
                    for m in members {
                        let kind = scalar_name(module, m.ty)
                            .map_err(|e| format!("{name}: {var_name}: {e}"))?;
                        write!(
                            ms,
                            "Member {{ name: {:?}, offset: {}, kind: ScalarKind::{kind} }}, ",
                            m.name.clone().unwrap_or_default(),
                            m.offset
                        )
                        .unwrap();
                    }
                    ("Uniform", ms, *span)
                }
                naga::AddressSpace::Storage { access } => {
                    let kind = if access.contains(naga::StorageAccess::STORE) {
                        "StorageReadWrite"
                    } else {
                        "StorageRead"
                    };
                    (kind, String::new(), 0)
                }
                other => {
                    return Err(format!(
                        "{name}: binding {var_name} in unsupported space {other:?}"
                    ));
                }
            };
            writeln!(
                s,
                "            Binding {{ group: {}, binding: {}, name: {var_name:?}, kind: BindingKind::{kind}, size: {size}, members: &[{members}] }},",
                rb.group, rb.binding
            )
            .unwrap();
        }
        writeln!(s, "        ] }},").unwrap();
        entries.push(Entry {
            name: ep.name.clone(),
            bindings,
        });
    }
    writeln!(s, "    ] }},").unwrap();
    Ok((s, entries))
}

/// An entry point's name and the names of the bindings it uses, for the typed handles.
struct Entry {
    name: String,
    bindings: Vec<String>,
}

/// The suffix of an f16 twin: shader `X16` reads one or more bindings of `X`'s entry points,
/// `b`, as f16 pairs under the name `b16`, and is otherwise the same kernel.
const F16_SUFFIX: &str = "16";

/// The `kernels` module: one `KernelId` constant per entry point of every shader (a module per
/// shader, the constant named after the entry point in capitals), each tied to its f16 twin.
fn handles(shaders: &[(String, Vec<Entry>)]) -> Result<String, String> {
    let mut s = String::from(
        "/// Every entry point of [`SHADERS`] as a constant: `kernels::gemm::GEMM_WIDE` is entry\n\
         /// point `gemm_wide` of `shaders/gemm.wgsl`. A misspelt kernel does not compile.\n\
         pub mod kernels {\n",
    );
    for (shader, entries) in shaders {
        let twin = shaders
            .iter()
            .find(|(n, _)| *n == format!("{shader}{F16_SUFFIX}"));
        writeln!(s, "    /// The entry points of `shaders/{shader}.wgsl`.").unwrap();
        writeln!(s, "    pub mod {shader} {{").unwrap();
        for e in entries {
            let f16 = match twin
                .and_then(|(t, es)| Some((t, es.iter().find(|x| x.name == e.name)?)))
            {
                None => "None".to_string(),
                Some((t, te)) => {
                    let halves: Vec<&String> = te
                        .bindings
                        .iter()
                        .filter(|b| {
                            b.strip_suffix(F16_SUFFIX)
                                .is_some_and(|stem| e.bindings.iter().any(|x| x == stem))
                        })
                        .collect();
                    // Several for data in parts (`data`, `data_b`, ...): the first, in binding
                    // order, selects the twin; the runtime renames each `b` it binds to `b16`.
                    let Some(&half) = halves.first() else {
                        return Err(format!(
                            "{t}::{}: an f16 twin must read at least one of {shader}::{}'s bindings as `NAME{F16_SUFFIX}`, found none",
                            e.name, e.name
                        ));
                    };
                    format!(
                        "Some(&crate::F16Twin {{ kernel: super::{t}::{}, binding: {:?}, binding16: {half:?} }})",
                        e.name.to_uppercase(),
                        &half[..half.len() - F16_SUFFIX.len()]
                    )
                }
            };
            writeln!(
                s,
                "        pub const {}: crate::KernelId = crate::KernelId {{ shader: {shader:?}, entry: {:?}, f16: {f16} }};",
                e.name.to_uppercase(),
                e.name
            )
            .unwrap();
        }
        writeln!(s, "    }}").unwrap();
    }
    let all: Vec<String> = shaders
        .iter()
        .flat_map(|(shader, entries)| {
            entries
                .iter()
                .map(move |e| format!("{shader}::{}", e.name.to_uppercase()))
        })
        .collect();
    writeln!(
        s,
        "    /// Every kernel above.\n    pub const ALL: &[crate::KernelId] = &[{}];",
        all.join(", ")
    )
    .unwrap();
    s.push_str("}\n");
    Ok(s)
}

/// Parses and validates one shader variant with `features`' capabilities and returns its
/// table entry, which names the features beyond [`shader_features`] it needs.
fn compile(
    name: &str,
    src: &Source,
    features: wgpu_types::Features,
    out_dir: &Path,
) -> Result<(String, Vec<Entry>), String> {
    let caps = wgpu_naga_bridge::features_to_naga_capabilities(
        features,
        wgpu_types::DownlevelFlags::all(),
    );
    let text = &src.text;
    let module = naga::front::wgsl::parse_str(text).map_err(|e| {
        diagnostic(
            name,
            src,
            e.location(text),
            e.message(),
            e.emit_to_string(text),
        )
    })?;
    let info = Validator::new(ValidationFlags::all(), caps)
        .validate(&module)
        .map_err(|e| {
            diagnostic(
                name,
                src,
                e.location(text),
                e.as_inner(),
                e.emit_to_string(text),
            )
        })?;
    let needs: Vec<String> = features
        .difference(shader_features())
        .iter_names()
        .map(|(n, _)| n.to_string())
        .collect();
    reflect(name, src, &module, &info, &needs, out_dir)
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let shader_dir = manifest.join("../shaders");
    let shared = shader_dir.join("shared");
    println!("cargo:rerun-if-changed={}", shader_dir.display());
    println!("cargo:rerun-if-changed={}", shared.display());

    let mut files: Vec<PathBuf> = std::fs::read_dir(&shader_dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", shader_dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wgsl"))
        .collect();
    files.sort();

    let mut table = String::from("pub static SHADERS: &[Shader] = &[\n");
    let mut failures = Vec::new();
    let mut plain = Vec::new();
    let mut table_handles = String::new();
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let twinned = match preprocess(path, &shared, false) {
            Ok((src, twinned)) => {
                match compile(&name, &src, shader_features(), &out_dir) {
                    Ok((s, entries)) => {
                        table.push_str(&s);
                        plain.push((name.clone(), entries));
                    }
                    Err(e) => failures.push(e),
                }
                twinned
            }
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        if !twinned {
            continue;
        }
        // The subgroup variant: every twinned module swapped for its twin, validated with
        // subgroups (the runtime uses it only on a device that has them).
        let sg_name = format!("{name}{SUBGROUP_SUFFIX}");
        let built = preprocess(path, &shared, true).and_then(|(src, _)| {
            compile(
                &sg_name,
                &src,
                shader_features() | wgpu_types::Features::SUBGROUP,
                &out_dir,
            )
        });
        match built {
            Ok((s, _)) => table.push_str(&s),
            Err(e) => failures.push(e),
        }
    }
    match handles(&plain) {
        Ok(h) => table_handles = h,
        Err(e) => failures.push(e),
    }
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("{f}");
        }
        panic!(
            "{} shader(s) failed to validate: {}",
            failures.len(),
            failures
                .iter()
                .map(|f| f.lines().next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    table.push_str("];\n");
    table.push_str(&table_handles);
    let names: Vec<String> = shader_features()
        .iter_names()
        .map(|(n, _)| format!("{n:?}"))
        .collect();
    table.push_str(&format!("/// The suffix of a shader's subgroup variant (`X{SUBGROUP_SUFFIX}`).\npub const SUBGROUP_SUFFIX: &str = {SUBGROUP_SUFFIX:?};\n"));
    table.push_str(&format!("/// The wgpu features (by name) the shaders were validated with; the runtime requests exactly these.\npub static SHADER_FEATURES: &[&str] = &[{}];\n", names.join(", ")));
    std::fs::write(out_dir.join("shaders.rs"), table).unwrap();
}

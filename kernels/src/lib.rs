//! oddity's kernels: every WGSL shader of `shaders/`, validated by naga at build time, with its
//! reflected bindings, uniform layout and workgroup size ([`SHADERS`]); the uniform parameter
//! structs shared by the runtime and the CPU twins ([`params`]); and an f64 CPU implementation of
//! every kernel ([`reference`]) that the tests compare the GPU against.

pub mod params;
pub mod reference;

/// How an entry point sees one binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingKind {
    Uniform,
    StorageRead,
    StorageReadWrite,
}

/// The scalar type of a uniform member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarKind {
    U32,
    I32,
    F32,
}

/// One member of a uniform struct: its name, byte offset and type.
#[derive(Clone, Copy, Debug)]
pub struct Member {
    pub name: &'static str,
    pub offset: u32,
    pub kind: ScalarKind,
}

/// One binding an entry point uses. `size` and `members` describe uniform structs.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    pub group: u32,
    pub binding: u32,
    pub name: &'static str,
    pub kind: BindingKind,
    pub size: u32,
    pub members: &'static [Member],
}

/// A compute entry point: its workgroup size and the bindings it actually uses.
#[derive(Clone, Copy, Debug)]
pub struct EntryPoint {
    pub name: &'static str,
    pub workgroup_size: [u32; 3],
    pub bindings: &'static [Binding],
}

/// One shader file (after `#import` expansion) and its entry points.
#[derive(Clone, Copy, Debug)]
pub struct Shader {
    pub name: &'static str,
    pub source: &'static str,
    /// The optional wgpu features (by name) this variant needs beyond [`SHADER_FEATURES`]:
    /// `SUBGROUP` for a subgroup variant.
    pub needs: &'static [&'static str],
    pub entry_points: &'static [EntryPoint],
}

/// A compute entry point named at compile time (the generated [`kernels`] module holds one
/// per entry point of every shader), with its f16 twin where one exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KernelId {
    /// The shader: a file stem of `shaders/`.
    pub shader: &'static str,
    pub entry: &'static str,
    /// The same entry point reading one of its bindings as f16 pairs (shader `X16`), which
    /// the runtime takes when that binding is given a buffer stored as f16.
    pub f16: Option<&'static F16Twin>,
}

impl KernelId {
    /// `shader::entry`, as errors and profiles name it.
    pub fn name(&self) -> String {
        format!("{}::{}", self.shader, self.entry)
    }

    /// The shader table's entry for this kernel.
    pub fn entry_point(&self) -> Option<(&'static Shader, &'static EntryPoint)> {
        entry_point(self.shader, self.entry)
    }
}

/// An f16 twin of a kernel: `kernel` reads binding `binding16` (and, for data in parts,
/// every other `NAME16`) as f16 pairs where the
/// original reads `binding` as f32 words; every other binding is the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct F16Twin {
    pub kernel: KernelId,
    pub binding: &'static str,
    pub binding16: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/shaders.rs"));

/// The subgroup variant of the shader named `name`, if it has one: the same entry points, with
/// its reductions written with subgroup operations (built from the `shared/*_sg.wgsl` twins).
pub fn subgroup_variant(name: &str) -> Option<&'static Shader> {
    SHADERS.iter().find(|s| {
        s.name.strip_suffix(SUBGROUP_SUFFIX) == Some(name) && s.needs.contains(&"SUBGROUP")
    })
}

/// The shader named `name` (a file stem of `shaders/`) and its entry point `entry`.
pub fn entry_point(name: &str, entry: &str) -> Option<(&'static Shader, &'static EntryPoint)> {
    let shader = SHADERS.iter().find(|s| s.name == name)?;
    let ep = shader.entry_points.iter().find(|e| e.name == entry)?;
    Some((shader, ep))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handle_names_an_entry_point_and_every_f16_twin_is_tied() {
        for k in kernels::ALL {
            assert!(
                k.entry_point().is_some(),
                "{} is not in the table",
                k.name()
            );
            if let Some(t) = k.f16 {
                assert_eq!(t.kernel.shader, format!("{}16", k.shader));
                assert_eq!(t.kernel.entry, k.entry);
                let (_, ep) = t.kernel.entry_point().unwrap();
                assert!(ep.bindings.iter().any(|b| b.name == t.binding16));
            }
        }
        // Each entry point of an `X16` shader is the twin of `X`'s entry point of that name.
        for k in kernels::ALL.iter().filter(|k| k.shader.ends_with("16")) {
            let base = &k.shader[..k.shader.len() - 2];
            let tied = kernels::ALL
                .iter()
                .any(|o| o.shader == base && o.f16.is_some_and(|t| t.kernel == *k));
            assert!(tied, "{} is no kernel's f16 twin", k.name());
        }
        assert_eq!(
            kernels::gemm::GEMM.f16.unwrap().kernel,
            kernels::gemm16::GEMM
        );
        assert!(kernels::reduce::REDUCE_SUM.f16.is_none());
    }
}

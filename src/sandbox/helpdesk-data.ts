// The sandbox's seeded Helpdesk: two locales of a small SaaS knowledge base, in markdown, grouped
// by topic. A few articles are unpublished (drafts) or hidden, so a client can be seen to leave
// them out. Fixed text, not generated: tests search it by meaning.

export interface SeedArticle {
  slug: string;
  title: string;
  description: string;
  published: boolean;
  hidden?: boolean;
  featured?: boolean;
  content: string;
}

export interface SeedGroup {
  slug: string;
  title: string;
  articles: SeedArticle[];
}

const en: SeedGroup[] = [
  {
    slug: 'billing',
    title: 'Billing and payments',
    articles: [
      {
        slug: 'refund-policy',
        title: 'Refund policy',
        description: 'When and how we pay back a subscription.',
        published: true,
        featured: true,
        content: `# Refund policy

Changed your mind? You can get your money back within **30 days** of any payment, no questions asked.

## How to ask for it
Write to us from the chat with the email of your account. We send the money back to the card or account that paid, within 5 to 10 business days.

## What is not covered
Payments older than 30 days, and add-ons already used (SMS credits, extra seats used during the month), are not paid back.`,
      },
      {
        slug: 'update-payment-method',
        title: 'Update your payment method',
        description: 'Change the card we charge.',
        published: true,
        content: `# Update your payment method

Go to **Settings → Billing → Payment method** and click *Replace card*. The new card is charged from the next invoice.

If a payment failed because your card expired, replacing the card retries the failed invoice at once.`,
      },
      {
        slug: 'invoices-and-vat',
        title: 'Invoices and VAT',
        description: 'Download invoices, add a VAT number.',
        published: true,
        content: `# Invoices and VAT

Every invoice is in **Settings → Billing → Invoices** as a PDF. Add your company name, address and VAT number there before the next payment, and they appear on every invoice from then on.

EU businesses with a valid VAT number are invoiced without VAT (reverse charge).`,
      },
      {
        slug: 'pricing-2027-draft',
        title: 'New pricing for 2027 (draft)',
        description: 'Unannounced price changes.',
        published: false,
        content: `# New pricing for 2027

Internal draft: the Pro plan moves to 39 €/month on 1 March 2027. Do not share before the announcement.`,
      },
    ],
  },
  {
    slug: 'account',
    title: 'Your account',
    articles: [
      {
        slug: 'reset-password',
        title: 'Reset your password',
        description: 'Get back into your account.',
        published: true,
        featured: true,
        content: `# Reset your password

Forgot it, or cannot log in? Click **Forgot password** on the login page and enter your email. We send a link that works for one hour.

No email after 5 minutes? Look in your spam folder, then ask us in the chat: we can send the link again.`,
      },
      {
        slug: 'cancel-subscription',
        title: 'Cancel your subscription',
        description: 'Stop the plan and what happens to your data.',
        published: true,
        content: `# Cancel your subscription

Go to **Settings → Billing → Plan** and click *Cancel plan*. You keep access until the end of the period you paid for, and you are not charged again.

Your data stays for 90 days after the end of the plan, then it is deleted for good. To close the account and delete everything now, see our GDPR article.`,
      },
      {
        slug: 'two-factor-authentication',
        title: 'Two-factor authentication',
        description: 'Protect your login with a second step.',
        published: true,
        content: `# Two-factor authentication

Turn it on in **Settings → Security**: scan the code with an authenticator app and type the 6-digit code. Keep the backup codes somewhere safe: they are the only way in if you lose your phone.`,
      },
      {
        slug: 'internal-escalation',
        title: 'Escalation runbook for agents',
        description: 'For our team only.',
        published: true,
        hidden: true,
        content: `# Escalation runbook

Team only: escalate payment disputes to finance@example.com and any data breach to security on call.`,
      },
    ],
  },
  {
    slug: 'privacy',
    title: 'Privacy and security',
    articles: [
      {
        slug: 'gdpr-data-processing',
        title: 'GDPR and our Data Processing Agreement',
        description: 'Your rights over your personal data, and our DPA.',
        published: true,
        content: `# GDPR and our Data Processing Agreement

We process personal data under the GDPR. You can ask for a copy of your personal data, have it corrected, or have it erased: write to privacy@example.com, we answer within 30 days.

To delete your account and all its data now, go to **Settings → Account → Delete account**.

Business customers can sign our Data Processing Agreement (DPA) online in **Settings → Legal**; it lists our sub-processors.`,
      },
    ],
  },
  {
    slug: 'orders',
    title: 'Orders and shipping',
    articles: [
      {
        slug: 'shipping-times',
        title: 'Shipping times and tracking',
        description: 'When your order arrives and how to follow it.',
        published: true,
        content: `# Shipping times and tracking

Orders leave our warehouse within 2 business days. Delivery takes 3 to 5 days in Europe and 7 to 12 days elsewhere.

You get a tracking number by email as soon as the parcel ships. A parcel that has not arrived after 15 days is considered lost: we send a new one.`,
      },
    ],
  },
];

const fr: SeedGroup[] = [
  {
    slug: 'facturation',
    title: 'Facturation et paiements',
    articles: [
      {
        slug: 'politique-de-remboursement',
        title: 'Politique de remboursement',
        description: 'Quand et comment nous remboursons un abonnement.',
        published: true,
        content: `# Politique de remboursement

Vous avez changé d'avis ? Nous vous rendons votre argent dans les **30 jours** suivant un paiement, sans justification.

Écrivez-nous depuis le chat avec l'email de votre compte : le montant revient sur la carte qui a payé sous 5 à 10 jours ouvrés.`,
      },
      {
        slug: 'factures-et-tva',
        title: 'Factures et TVA',
        description: 'Télécharger ses factures, ajouter un numéro de TVA.',
        published: true,
        content: `# Factures et TVA

Toutes les factures sont dans **Réglages → Facturation → Factures**, en PDF. Ajoutez-y le nom de votre société et votre numéro de TVA intracommunautaire avant le prochain paiement.`,
      },
    ],
  },
  {
    slug: 'compte',
    title: 'Votre compte',
    articles: [
      {
        slug: 'reinitialiser-mot-de-passe',
        title: 'Réinitialiser votre mot de passe',
        description: 'Retrouver l’accès à votre compte.',
        published: true,
        content: `# Réinitialiser votre mot de passe

Impossible de vous connecter ? Cliquez sur **Mot de passe oublié** sur la page de connexion et saisissez votre email. Le lien reçu est valable une heure.`,
      },
      {
        slug: 'resilier-abonnement',
        title: 'Résilier votre abonnement',
        description: 'Arrêter l’offre et ce que deviennent vos données.',
        published: true,
        content: `# Résilier votre abonnement

Allez dans **Réglages → Facturation → Offre** et cliquez sur *Résilier*. Vous gardez l'accès jusqu'à la fin de la période payée, sans nouveau prélèvement.`,
      },
      {
        slug: 'brouillon-nouvelle-offre',
        title: 'Nouvelle offre Entreprise (brouillon)',
        description: 'Non publié.',
        published: false,
        content: `# Nouvelle offre Entreprise

Brouillon interne : prix et conditions à valider.`,
      },
    ],
  },
  {
    slug: 'confidentialite',
    title: 'Confidentialité',
    articles: [
      {
        slug: 'rgpd-et-dpa',
        title: 'RGPD et accord de traitement des données',
        description: 'Vos droits sur vos données et notre DPA.',
        published: true,
        content: `# RGPD et accord de traitement des données

Nous traitons vos données personnelles conformément au RGPD. Vous pouvez demander une copie de vos données, leur correction ou leur effacement : écrivez à privacy@example.com, nous répondons sous 30 jours.

Pour supprimer votre compte et toutes vos données personnelles tout de suite : **Réglages → Compte → Supprimer le compte**. Les entreprises signent notre DPA dans **Réglages → Juridique**.`,
      },
    ],
  },
];

export const SEED_HELPDESK: Record<string, SeedGroup[]> = { en, fr };
